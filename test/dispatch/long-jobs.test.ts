/**
 * A job running past its expected duration (max_tokens at its runner's
 * measured speed) moves to a faster free runner, and the slow attempt is
 * cancelled: the slow runner earns nothing for it.
 */
import { expect, test } from '@jest/globals';
import { workflowIdForJob } from '@trd/protocol';
import { api, useStack, waitForJob } from '../support/stack.js';

const TOKEN_DELAY_MS = 30;
const MAX_TOKENS = 300;

const stack = useStack();

/** Runs a few jobs on a runner alone, so the platform has measured its speed, then stops it. */
async function measure(workerId: string) {
  const runner = await stack.startRunner({ workerId });
  for (let i = 0; i < 3; i++) {
    const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `measure ${workerId} ${i}`, max_tokens: 64 });
    expect(res.json).toMatchObject({ status: 'succeeded', worker_id: workerId });
  }
  await runner.stop();
}

test('a job on a runner that slowed down moves to a faster free runner', async () => {
  await measure('sprinter');
  await measure('fader');
  // The same runner, now much slower than measured (a throttled GPU, a busy host).
  const fader = await stack.startRunner({ workerId: 'fader', env: { TRD_RUNNER_FAULTS: `token-delay-ms=${TOKEN_DELAY_MS}` } });
  const submitted = Date.now();
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'the long one', max_tokens: MAX_TOKENS });
  await waitForJob(stack, created.json.id, (j) => j.status === 'running' && j.worker_id === 'fader');
  await stack.startRunner({ workerId: 'sprinter' });

  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'sprinter', usage: { completion_tokens: MAX_TOKENS } });
  // Staying on the slow runner would have taken MAX_TOKENS × TOKEN_DELAY_MS = 9 s of generation.
  expect(Date.now() - submitted).toBeLessThan(MAX_TOKENS * TOKEN_DELAY_MS);

  const history = await stack.client.workflow.getHandle(workflowIdForJob(created.json.id)).fetchHistory();
  expect(history.events!.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
  expect(history.events!.some((e) => e.activityTaskCanceledEventAttributes)).toBe(true);
  const queues = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name);
  expect(queues).toEqual(['model.trd-tiny.warm.probation', 'runner.sprinter']);

  const attempts = await stack.db.jobAttempt.findMany({ where: { jobId: created.json.id } });
  expect(attempts.map((a) => [a.workerId, a.outcome])).toEqual([['fader', 'moved_to_faster_runner']]);
  // The move is a decision about the slow runner, recorded once, to be signed into its chain.
  const moved = await stack.db.runnerDecision.findMany({ where: { runnerId: 'fader', kind: 'job_moved' } });
  expect(moved.map((d) => [d.dedupeKey, (d.detail as { job_id: string }).job_id])).toEqual([[`moved:${attempts[0]!.id}`, created.json.id]]);
  const earned = await stack.db.ledgerEntry.findMany({ where: { transaction: { jobId: created.json.id }, account: { startsWith: 'runner:' } } });
  expect(earned.map((e) => e.account)).toEqual(['runner:sprinter']);
  expect(await stack.db.receipt.count({ where: { jobId: created.json.id } })).toBe(1);
  expect(fader.child.exitCode).toBeNull();
});
