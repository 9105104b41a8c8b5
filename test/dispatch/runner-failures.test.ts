/**
 * A runner that dies or shuts down mid-job loses the job to another runner;
 * the customer sees one job that took longer, with one receipt. Every runner
 * here is a real `trd-worker` process; faults are injected through
 * TRD_RUNNER_FAULTS. A stalled runner: its watchdog in test/runner/watchdog,
 * the heartbeat timeout and retry in test/workflows/job-routing.
 */
import { afterEach, expect, test } from '@jest/globals';
import { workflowIdForJob } from '@trd/protocol';
import type { ManagedProcess } from '../../devstack/processes.js';
import { api, useStack, waitForJob } from '../support/stack.js';

const HEARTBEAT_TIMEOUT_MS = 2000;
const started: ManagedProcess[] = [];

const stack = useStack({ jobLimits: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, retryInitialIntervalMs: 100 } });

afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.stop('SIGKILL')));
});

async function runner(workerId: string, faults?: string) {
  const r = await stack.startRunner({ workerId, env: faults ? { TRD_RUNNER_FAULTS: faults } : undefined });
  started.push(r);
  return r;
}

/** Submits a job and waits until `workerId` is generating it. */
async function jobRunningOn(workerId: string, maxTokens: number) {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `for ${workerId}`, max_tokens: maxTokens });
  expect(created.status).toBe(202);
  await waitForJob(stack, created.json.id, (j) => j.status === 'running' && j.worker_id === workerId);
  return created.json.id as string;
}

async function expectOneCompletion(jobId: string, workerId: string) {
  const done = await api(stack, 'GET', `/v1/jobs/${jobId}?wait=30`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: workerId });
  expect(done.json.receipt.envelope.worker_id).toBe(workerId);
  expect(await stack.db.receipt.count({ where: { jobId } })).toBe(1);
  const history = await stack.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
  // Temporal writes an attempt's started event when the activity ends, so only the rescue shows as started.
  const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!);
  expect(started.map((a) => a.identity)).toEqual([workerId]);
  expect(history.events!.filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(1);
  // The lost attempt shows either as Temporal's retry (the rescue is attempt 2 or later) or, when nobody
  // took the retry within the warm wait, as a timed-out activity before the rescue was scheduled anew.
  const timedOut = history.events!.some((e) => e.activityTaskTimedOutEventAttributes);
  expect(started[0].attempt! >= 2 || timedOut).toBe(true);
  // Charged once, earned once, by the runner whose result was accepted.
  const entries = await stack.db.ledgerEntry.findMany({ where: { transaction: { jobId } } });
  expect(entries.map((e) => e.account.replace(/^customer:.*/, 'customer')).sort()).toEqual(['customer', 'platform:revenue', `runner:${workerId}`]);
  expect(entries.reduce((sum, e) => sum + e.amount, 0n)).toBe(0n);
  expect(Number(entries.find((e) => e.account.startsWith('customer:'))!.amount)).toBe(-done.json.billing.charge_microcredits);
  expect(done.json.billing.charge_microcredits).toBeGreaterThan(0);
  return done.json;
}

test('a runner killed mid-generation (SIGKILL) loses the job to another runner', async () => {
  const slow = await runner('doomed', 'token-delay-ms=40');
  const jobId = await jobRunningOn('doomed', 300);
  await runner('rescuer');
  await slow.stop('SIGKILL');
  const job = await expectOneCompletion(jobId, 'rescuer');
  expect(job.usage.completion_tokens).toBe(300);
});

test('a runner told to stop (SIGTERM) mid-job hands the job back after its grace period', async () => {
  const leaving = await runner('leaving', 'token-delay-ms=40');
  const jobId = await jobRunningOn('leaving', 300);
  await runner('staying');
  const stopAsked = Date.now();
  await leaving.stop('SIGTERM');
  // Grace is 2 s (devstack/platform.ts): the runner exits once its job is handed back, not after 12 s of generating.
  expect(Date.now() - stopAsked).toBeLessThan(8000);
  expect(leaving.child.exitCode ?? leaving.child.signalCode).not.toBe('SIGKILL');
  await expectOneCompletion(jobId, 'staying');
});
