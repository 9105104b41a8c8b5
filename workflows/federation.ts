/**
 * Federation's two workflows. attestationExchange is each peer's Schedule's action: sign the chain
 * heads the peer has not countersigned, send them, keep the countersignature; a peer that cannot be
 * reached is tried again with backoff and no attempt limit (the Schedule skips runs meanwhile, and
 * the run that gets through carries the heads). countersignAttestation is started by the gateway
 * that received an attestation, for an orchestrator (which holds the signing key) to countersign it.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Countersignature } from '@trd/protocol/attestation';
import type { FederationActivities } from '../activities/federation-activities.js';
import { FederationFailures, PlatformFailures, type AttestationExchangeInput, type AttestationExchangeOutcome, type CountersignInput, type FederationTimes } from '../platform/workflow-api.js';

const activities = (t: FederationTimes) =>
  proxyActivities<FederationActivities>({
    // A call to the peer within timeoutMs, the database around it.
    startToCloseTimeout: t.timeoutMs * 2,
    retry: {
      initialInterval: t.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: t.retryMaxMs,
      nonRetryableErrorTypes: [FederationFailures.PeerRefused, FederationFailures.NotPeered, FederationFailures.BadCountersignature, PlatformFailures.InvalidReceipt],
    },
  });

export async function attestationExchange(input: AttestationExchangeInput): Promise<AttestationExchangeOutcome> {
  const { prepareAttestation, deliverAttestation } = activities(input);
  const exchangeId = workflowInfo().workflowId;
  const prepared = await prepareAttestation({ exchangeId, pod: input.pod, peer: input.peer, maxHeads: input.maxHeads });
  const { receivedAt } = await deliverAttestation({ exchangeId, timeoutMs: input.timeoutMs });
  return { attestationSha256: prepared.attestationSha256, heads: prepared.heads, receivedAt };
}

export async function countersignAttestation(input: CountersignInput & FederationTimes): Promise<Countersignature> {
  const { countersignAttestation: sign } = activities(input);
  const { timeoutMs: _t, retryInitialMs: _i, retryMaxMs: _m, ...which } = input;
  return sign(which);
}
