/**
 * Warm first: with one runner that has the model loaded and one that has it
 * only on disk, jobs go to the warm one while it is free; when it is busy the
 * cold one loads the model and takes the job, and the load is not billed.
 */
import { expect, test } from '@jest/globals';
import { workflowIdForJob } from '@trd/protocol';
import { chargeMicrocredits } from '../../economy/billing.js';
import { api, useStack, waitForJob } from '../support/stack.js';

const LOAD_DELAY_MS = 1500;

const stack = useStack({}, async () => {
  await Promise.all([
    // A little slow per token, so a long job keeps it busy for a few seconds.
    stack.startRunner({ workerId: 'warm-1', env: { TRD_RUNNER_FAULTS: 'token-delay-ms=5' } }),
    // Its model stays on disk until a job needs it; loading it takes 1.5 s, as a real model would.
    stack.startRunner({ workerId: 'cold-1', load: 'on-demand', env: { TRD_RUNNER_FAULTS: `load-delay-ms=${LOAD_DELAY_MS}` } }),
  ]);
});

async function eligible(query = 'model=trd-tiny') {
  const res = await api(stack, 'GET', `/v1/dispatch/eligible?${query}`);
  expect(res.status).toBe(200);
  return res.json.data as Array<Record<string, any>>;
}

test('the eligible-workers call lists both runners, the warm one first', async () => {
  const runners = await eligible();
  expect(runners.map((r) => [r.worker_id, r.is_warm, r.available])).toEqual([
    ['warm-1', true, true],
    ['cold-1', false, true],
  ]);
  expect(runners[0]).toMatchObject({ tier: 'probation', reputation: 50, load: { running_jobs: 0, slots: 1 } });
});

test('50 jobs in a row all go to the warm runner while it is free', async () => {
  for (let i = 0; i < 50; i++) {
    const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `warm ${i}`, max_tokens: 4 });
    expect(res.json).toMatchObject({ status: 'succeeded', worker_id: 'warm-1', timings: { model_load_ms: 0 } });
  }
  // Its score is recomputed soon after its jobs (economy/reputation.ts); eligible shows that score once there is one.
  const deadline = Date.now() + 10_000;
  let score: number | null = null;
  while ((score = (await stack.db.runner.findUniqueOrThrow({ where: { id: 'warm-1' } })).reputationScore) === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const [warm, cold] = await eligible();
  expect(warm.worker_id).toBe('warm-1');
  expect(warm.tokens_per_second).toBeGreaterThan(0);
  // 50 clean jobs: success, uptime, latency and audits all full.
  expect(score).toBe(100);
  expect(warm.reputation).toBe(100);
  expect(cold.tokens_per_second).toBeNull();
});

test('while the warm runner is busy, the cold one loads the model and takes the job; the load is not billed', async () => {
  const long = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'keep warm-1 busy', max_tokens: 500 });
  await waitForJob(stack, long.json.id, (j) => j.status === 'running' && j.worker_id === 'warm-1');

  const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'overflow', max_tokens: 8 });
  const job = res.json;
  expect(job).toMatchObject({ status: 'succeeded', worker_id: 'cold-1' });
  expect(job.timings.model_load_ms).toBeGreaterThanOrEqual(LOAD_DELAY_MS);
  // Billed for reading the prompt and generating, never for the load, at the model's rate.
  expect(job.billing.billable_ms).toBeLessThanOrEqual(job.timings.time_to_first_token_ms + job.timings.generation_ms);
  expect(job.billing.billable_ms).toBeLessThan(LOAD_DELAY_MS);
  expect(job.billing.charge_microcredits).toBe(chargeMicrocredits(job.billing.billable_ms, 36));
  const earned = await stack.db.ledgerEntry.findMany({ where: { transaction: { jobId: job.id }, account: { startsWith: 'runner:' } } });
  expect(earned.map((e) => e.account)).toEqual(['runner:cold-1']);

  // It waited on the warm queue, then went to the cold one.
  const history = await stack.client.workflow.getHandle(workflowIdForJob(job.id)).fetchHistory();
  const queues = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name);
  expect(queues).toEqual(['model.trd-tiny.warm.probation', 'model.trd-tiny.cold.probation']);

  expect((await api(stack, 'GET', `/v1/jobs/${long.json.id}?wait=30`)).json).toMatchObject({ status: 'succeeded', worker_id: 'warm-1' });
});

test('a cold runner that loaded the model is warm from then on', async () => {
  const deadline = Date.now() + 10_000;
  let runners = await eligible();
  while (!runners.every((r) => r.is_warm) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    runners = await eligible();
  }
  expect(runners.map((r) => [r.worker_id, r.is_warm]).sort()).toEqual([
    ['cold-1', true],
    ['warm-1', true],
  ]);
});

test('the eligible-workers call refuses a bad query with a clear error', async () => {
  expect((await api(stack, 'GET', '/v1/dispatch/eligible')).json.error.message).toMatch(/model/);
  expect((await api(stack, 'GET', '/v1/dispatch/eligible?model=nope')).status).toBe(404);
  const badTier = await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny&min_tier=gold');
  expect(badTier.status).toBe(400);
  expect(badTier.json.error.message).toMatch(/min_tier/);
  expect((await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny', undefined, null)).status).toBe(401);
});
