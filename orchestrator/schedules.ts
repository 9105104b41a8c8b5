/**
 * The Temporal Schedules the orchestrator keeps: payoutSettlement (each run's
 * workflow id, the schedule's id and the scheduled time, is its batch id) and
 * reputationSweep. Created at start, and brought to the configured interval
 * and bounds if they exist already.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import { ORCHESTRATOR_QUEUE } from '@trd/protocol';
import type { PayoutSettings } from '../economy/payout-settings.js';
import { PAYOUT_SCHEDULE_ID, type SettlementInput } from '../workflows/payout-settlement.js';
import { REPUTATION_SCHEDULE_ID } from '../workflows/reputation-sweep.js';

export async function ensurePayoutSchedule(client: Client, s: PayoutSettings): Promise<void> {
  const input: SettlementInput = { stepTimeoutMs: s.stepTimeoutMs, retryInitialMs: s.retryInitialMs, retryMaxMs: s.retryMaxMs };
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

export async function ensureReputationSchedule(client: Client, intervalMs: number): Promise<void> {
  const action: ScheduleOptionsAction = { type: 'startWorkflow', workflowType: 'reputationSweep', workflowId: REPUTATION_SCHEDULE_ID, taskQueue: ORCHESTRATOR_QUEUE, args: [] };
  // A sweep still running when the next is due: the next is skipped, the one after will do.
  await ensureSchedule(client, REPUTATION_SCHEDULE_ID, intervalMs, action, ScheduleOverlapPolicy.SKIP);
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
