/**
 * Chain-head attestations between pods (docs/cascade.md, federation). The sending side signs the heads
 * its peer has not countersigned yet and keeps the attestation under its exchange id, so a retried step
 * sends the same document; the receiving side countersigns with its active key and keeps both, so a
 * retried POST gets the same countersignature. Each side's copy is what a verifier asks it for.
 */
import { ApplicationFailure } from '@temporalio/activity';
import {
  attestationSha256,
  countersign,
  signAttestation,
  verifyCountersigned,
  type Countersignature,
  type SignedAttestation,
} from '@trd/protocol/attestation';
import { PeerUnreachableError, fetchPeerJson, headsToAttest, ownKeys, peerKeysFor } from '../federation/peers.js';
import type { Db } from '../platform/db.js';
import type { PayloadKeys } from '../platform/payload-encryption.js';
import { openSecret } from '../platform/sealed-secrets.js';
import { FederationFailures, type CountersignInput } from '../platform/workflow-api.js';
import type { Signer } from '../orchestrator/signing-keys.js';

export interface FederationDeps {
  db: Db;
  signer: Signer;
  /** Peers' credentials are sealed with these; null (a benchmark's baseline) has no peers to send to. */
  payloadKeys: PayloadKeys | null;
  clock?: () => Date;
}

const headRows = (sha256: string, peer: string, sent: boolean, doc: SignedAttestation) =>
  doc.envelope.heads.map((h) => ({ attestationSha256: sha256, peer, sent, sessionId: h.session_id, seq: h.seq, cid: h.cid }));

export function createFederationActivities(deps: FederationDeps) {
  const { db } = deps;
  const now = deps.clock ?? (() => new Date());

  async function activePeer(name: string) {
    const peer = await db.peer.findUnique({ where: { name } });
    if (!peer) throw ApplicationFailure.nonRetryable(`no peer ${name} (removed since the schedule was written)`, FederationFailures.NotPeered);
    if (peer.revokedAt) throw ApplicationFailure.nonRetryable(`the peering with ${name} was revoked at ${peer.revokedAt.toISOString()} by ${peer.revokedBy}`, FederationFailures.NotPeered);
    return peer;
  }

  return {
    /** Signs the heads `peer` has not countersigned (up to `maxHeads`) and the pod's key list, once per exchange. */
    async prepareAttestation(input: { exchangeId: string; pod: string; peer: string; maxHeads: number }): Promise<{ attestationSha256: string; heads: number }> {
      const kept = await db.sentAttestation.findUnique({ where: { exchangeId: input.exchangeId } });
      if (kept) return { attestationSha256: kept.sha256, heads: (kept.document as unknown as SignedAttestation).envelope.heads.length };
      await activePeer(input.peer);
      const heads = await headsToAttest(db, input.peer, input.maxHeads);
      const { key } = await deps.signer.active();
      const doc = await signAttestation({ pod: input.pod, issued_at: now().toISOString(), heads, keys: [...(await ownKeys(db)).keys()] }, key.secretKey);
      const sha256 = await attestationSha256(doc);
      await db.$transaction([
        db.sentAttestation.create({ data: { exchangeId: input.exchangeId, peer: input.peer, sha256, document: doc as unknown as object, issuedAt: new Date(doc.envelope.issued_at) } }),
        db.attestedHead.createMany({ data: headRows(sha256, input.peer, true, doc), skipDuplicates: true }),
      ]);
      return { attestationSha256: sha256, heads: heads.length };
    },

    /** POSTs the exchange's attestation to the peer and keeps its countersignature, checked against both pods' keys. */
    async deliverAttestation(input: { exchangeId: string; timeoutMs: number }): Promise<{ receivedAt: string }> {
      const sent = await db.sentAttestation.findUniqueOrThrow({ where: { exchangeId: input.exchangeId } });
      if (sent.countersignature) return { receivedAt: (sent.countersignature as unknown as Countersignature).envelope.received_at };
      const peer = await activePeer(sent.peer);
      if (!peer.outboundCredential || !deps.payloadKeys) throw ApplicationFailure.nonRetryable(`no credential of ${peer.name}'s to present (PATCH /v1/operator/peers/${peer.name} with the one it issued)`, FederationFailures.NotPeered);
      const attestation = sent.document as unknown as SignedAttestation;
      let answer: { status: number; body: any };
      try {
        answer = await fetchPeerJson(`${peer.baseUrl}/v1/federation/attestations`, input.timeoutMs, {
          method: 'POST',
          headers: { authorization: `Bearer ${openSecret(deps.payloadKeys, peer.outboundCredential)}`, 'content-type': 'application/json' },
          body: JSON.stringify(attestation),
        });
      } catch (err) {
        if (err instanceof PeerUnreachableError) throw ApplicationFailure.retryable(err.message, FederationFailures.PeerUnreachable);
        throw err;
      }
      const said = answer.body?.error?.message ?? JSON.stringify(answer.body).slice(0, 200);
      if (answer.status === 429 || answer.status >= 500) throw ApplicationFailure.retryable(`${peer.name} answered ${answer.status}: ${said}`, FederationFailures.PeerUnreachable);
      if (answer.status !== 200) throw ApplicationFailure.nonRetryable(`${peer.name} refused the attestation (${answer.status}): ${said}`, FederationFailures.PeerRefused);
      const countersignature = answer.body?.countersignature as Countersignature;
      const kid = typeof countersignature?.envelope?.kid === 'string' ? countersignature.envelope.kid : '';
      const check = await verifyCountersigned({ attestation, countersignature }, await ownKeys(db), await peerKeysFor(db, peer, kid, input.timeoutMs));
      if (!check.ok) throw ApplicationFailure.nonRetryable(`${peer.name}'s answer is not a countersignature of this attestation: ${check.reason}`, FederationFailures.BadCountersignature);
      if (countersignature.envelope.pod !== peer.name) throw ApplicationFailure.nonRetryable(`the countersignature is signed as ${countersignature.envelope.pod}, not ${peer.name}`, FederationFailures.BadCountersignature);
      await db.sentAttestation.update({ where: { exchangeId: input.exchangeId }, data: { countersignature: countersignature as unknown as object, countersignedAt: now() } });
      return { receivedAt: countersignature.envelope.received_at };
    },

    /** Countersigns a received attestation (the gateway checked it), once: a second call returns the first countersignature. */
    async countersignAttestation(input: CountersignInput): Promise<Countersignature> {
      const sha256 = await attestationSha256(input.attestation);
      const kept = await db.receivedAttestation.findUnique({ where: { sha256 } });
      if (kept) return kept.countersignature as unknown as Countersignature;
      const { key } = await deps.signer.active();
      const countersignature = await countersign(input.attestation, { pod: input.pod, receivedAt: input.receivedAt }, key.secretKey);
      const sender = input.attestation.envelope.pod;
      await db.$transaction([
        db.receivedAttestation.createMany({
          data: [{ sha256, pod: sender, document: input.attestation as unknown as object, countersignature: countersignature as unknown as object, receivedAt: new Date(input.receivedAt) }],
          skipDuplicates: true,
        }),
        db.attestedHead.createMany({ data: headRows(sha256, sender, false, input.attestation), skipDuplicates: true }),
      ]);
      // Two orchestrators racing on one attestation: the first one's countersignature is the one kept and answered.
      return (await db.receivedAttestation.findUniqueOrThrow({ where: { sha256 } })).countersignature as unknown as Countersignature;
    },
  };
}

export type FederationActivities = ReturnType<typeof createFederationActivities>;
