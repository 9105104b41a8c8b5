/**
 * The Temporal Schedules the platform keeps: payoutSettlement (each run's
 * workflow id, the schedule's id and the scheduled time, is its batch id),
 * reputationSweep, and the payout batches' search attributes, written by the
 * one-shot setup (orchestrator/setup.ts), never by an orchestrator's start:
 * an old replica restarting late must not put back an old schedule. Each
 * peer's attestationExchange is written by the operator's request instead.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import { ORCHESTRATOR_QUEUE } from '@trd/protocol';
import type { PayoutSettings } from '../economy/payout-settings.js';
import proto from '@temporalio/proto';
import {
  PAYOUT_SCHEDULE_ID,
  PAYOUT_SEARCH_ATTRIBUTES,
  DECISIONS_SCHEDULE_ID,
  REPUTATION_SCHEDULE_ID,
  WARM_POOL_SCHEDULE_ID,
  attestationScheduleId,
  type AttestationExchangeInput,
  type SettlementInput,
  type SweepInput,
} from '../platform/workflow-api.js';
import type { ReputationSettings } from '../economy/reputation.js';
import { warmPoolInput, type WarmPoolSettings } from '../economy/warm-pool.js';

export async function ensurePayoutSchedule(client: Client, s: PayoutSettings): Promise<void> {
  const input: SettlementInput = { stepTimeoutMs: s.stepTimeoutMs, retryInitialMs: s.retryInitialMs, retryMaxMs: s.retryMaxMs, ...(s.chain ? { chainPollMs: s.chain.pollMs } : {}) };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'payoutSettlement',
    workflowId: PAYOUT_SCHEDULE_ID,
    taskQueue: ORCHESTRATOR_QUEUE,
    args: [input],
  };
  // One batch at a time: a batch still paying when the next is due makes the next wait.
  await ensureSchedule(client, PAYOUT_SCHEDULE_ID, s.scheduleIntervalMs, action, ScheduleOverlapPolicy.BUFFER_ONE);
}

export async function ensureReputationSchedule(client: Client, s: ReputationSettings): Promise<void> {
  const { batchMax: _, ...token } = s.token;
  const input: SweepInput = { challenge: s.challenge, token };
  const action: ScheduleOptionsAction = { type: 'startWorkflow', workflowType: 'reputationSweep', workflowId: REPUTATION_SCHEDULE_ID, taskQueue: ORCHESTRATOR_QUEUE, args: [input] };
  // A sweep still running when the next is due: the next is skipped, the one after will do.
  await ensureSchedule(client, REPUTATION_SCHEDULE_ID, s.sweepIntervalMs, action, ScheduleOverlapPolicy.SKIP);
}

/** Signing the recorded decisions about runners into their chains; a run still signing when the next is due makes it skip. */
export async function ensureDecisionsSchedule(client: Client, s: ReputationSettings): Promise<void> {
  const action: ScheduleOptionsAction = { type: 'startWorkflow', workflowType: 'signRunnerDecisions', workflowId: DECISIONS_SCHEDULE_ID, taskQueue: ORCHESTRATOR_QUEUE, args: [] };
  await ensureSchedule(client, DECISIONS_SCHEDULE_ID, s.decisionsSignEveryMs, action, ScheduleOverlapPolicy.SKIP);
}

/** The warm-pool credit's Schedule while a target is configured; without one it is removed (nobody is paid for warmth). */
export async function ensureWarmPoolSchedule(client: Client, s: WarmPoolSettings): Promise<void> {
  const input = warmPoolInput(s);
  if (!input) return removeSchedule(client, WARM_POOL_SCHEDULE_ID);
  const action: ScheduleOptionsAction = { type: 'startWorkflow', workflowType: 'warmPoolCredits', workflowId: WARM_POOL_SCHEDULE_ID, taskQueue: ORCHESTRATOR_QUEUE, args: [input] };
  // A run still deciding when the next is due: the next is skipped, and the one after decides what is left.
  await ensureSchedule(client, WARM_POOL_SCHEDULE_ID, s.everyMs, action, ScheduleOverlapPolicy.SKIP);
}

/**
 * A peer's attestation Schedule, written by the gateway when the peering has a credential to present
 * (gateway/federation.ts) and deleted when it is revoked; a run still retrying an unreachable peer
 * when the next is due makes the next one skip.
 */
export async function ensureAttestationSchedule(client: Client, input: AttestationExchangeInput, everyMs: number): Promise<void> {
  const scheduleId = attestationScheduleId(input.peer);
  const action: ScheduleOptionsAction = { type: 'startWorkflow', workflowType: 'attestationExchange', workflowId: scheduleId, taskQueue: ORCHESTRATOR_QUEUE, args: [input] };
  await ensureSchedule(client, scheduleId, everyMs, action, ScheduleOverlapPolicy.SKIP);
}

export async function removeAttestationSchedule(client: Client, peer: string): Promise<void> {
  await removeSchedule(client, attestationScheduleId(peer));
}

async function removeSchedule(client: Client, scheduleId: string): Promise<void> {
  await client.schedule
    .getHandle(scheduleId)
    .delete()
    .catch((err: Error) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
}

async function ensureSchedule(client: Client, scheduleId: string, everyMs: number, action: ScheduleOptionsAction, overlap: ScheduleOverlapPolicy): Promise<void> {
  const spec = { intervals: [{ every: everyMs }] };
  const policies = { overlap };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action, policies: { ...prev.policies, ...policies } }));
  }
}

const INDEXED_TYPE = {
  KEYWORD: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/** Registers the payout batches' search attributes in the namespace, those that are not there yet. */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<void> {
  const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.values(PAYOUT_SEARCH_ATTRIBUTES).filter((k) => !(k.name in (existing.customAttributes ?? {})));
  if (!missing.length) return;
  await client.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_TYPE[k.type]])),
  });
}

/** Search attributes, then the schedules at the configured intervals and bounds. */
export async function ensureTemporalSetup(client: Client, namespace: string, payouts: PayoutSettings, reputation: ReputationSettings, warmPool: WarmPoolSettings): Promise<void> {
  await ensureSearchAttributes(client, namespace);
  await ensurePayoutSchedule(client, payouts);
  await ensureReputationSchedule(client, reputation);
  await ensureDecisionsSchedule(client, reputation);
  await ensureWarmPoolSchedule(client, warmPool);
}
