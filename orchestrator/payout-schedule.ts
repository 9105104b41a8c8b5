/**
 * The Temporal Schedule that starts payoutSettlement: created by the
 * orchestrator at start, and brought to the configured interval and bounds
 * if it exists already. Each run's workflow id (the schedule's id and the
 * scheduled time) is its batch id.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import { ORCHESTRATOR_QUEUE } from '@trd/protocol';
import type { PayoutSettings } from '../economy/payout-settings.js';
import { PAYOUT_SCHEDULE_ID, type SettlementInput } from '../workflows/payout-settlement.js';

export async function ensurePayoutSchedule(client: Client, s: PayoutSettings): Promise<void> {
  const input: SettlementInput = { stepTimeoutMs: s.stepTimeoutMs, retryInitialMs: s.retryInitialMs, retryMaxMs: s.retryMaxMs };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'payoutSettlement',
    workflowId: PAYOUT_SCHEDULE_ID,
    taskQueue: ORCHESTRATOR_QUEUE,
    args: [input],
  };
  const spec = { intervals: [{ every: s.scheduleIntervalMs }] };
  // One batch at a time: a batch still paying when the next is due makes the next wait.
  const policies = { overlap: ScheduleOverlapPolicy.BUFFER_ONE };
  try {
    await client.schedule.create({ scheduleId: PAYOUT_SCHEDULE_ID, spec, action, policies });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(PAYOUT_SCHEDULE_ID).update((prev) => ({ ...prev, spec, action, policies: { ...prev.policies, ...policies } }));
  }
}
