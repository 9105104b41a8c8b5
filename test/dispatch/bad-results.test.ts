/**
 * A runner that returns a bad result (here: a token count it cannot have
 * produced) has that attempt counted against it; the job is retried on
 * another runner and the customer sees one successful job.
 */
import { expect, test } from '@jest/globals';
import { api, useStack } from '../support/stack.js';

// Retries back off from 500 ms, leaving time for the honest runner to start.
const stack = useStack({ jobLimits: { maxAttempts: 8, retryInitialIntervalMs: 500 } });

test('a bad result counts as a failed attempt for its runner; the job completes on another', async () => {
  await stack.startRunner({ workerId: 'liar', env: { TRD_RUNNER_FAULTS: 'bad-result=1' } });
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'count honestly', max_tokens: 5 });
  const deadline = Date.now() + 10_000;
  while ((await stack.db.jobAttempt.count({ where: { jobId: created.json.id } })) === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await stack.startRunner({ workerId: 'honest' });

  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'honest', usage: { completion_tokens: 5 }, error: null });
  const attempts = await stack.db.jobAttempt.findMany({ where: { jobId: created.json.id } });
  expect(attempts.length).toBeGreaterThanOrEqual(1);
  for (const a of attempts) {
    expect(a).toMatchObject({ workerId: 'liar', outcome: 'invalid_result' });
    expect(a.detail).toMatch(/completion token count 6 is outside 0\.\.5/);
  }
  const earned = await stack.db.ledgerEntry.findMany({ where: { transaction: { jobId: created.json.id }, account: { startsWith: 'runner:' } } });
  expect(earned.map((e) => e.account)).toEqual(['runner:honest']);

  // The liar's record shows: its placeholder reputation is below the honest runner's.
  const eligible = (await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny')).json.data;
  const score = (id: string) => eligible.find((r: any) => r.worker_id === id).reputation;
  expect(score('liar')).toBeLessThan(score('honest'));
});
