/** A job waits, queued, until a runner for its model polls; the wait shows in its timings. */
import { expect, test } from '@jest/globals';
import { api, useStack } from '../support/stack.js';

const stack = useStack();

test('a job is queued while no runner serves its model, then runs when one starts', async () => {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'waiting', max_tokens: 5 });
  expect(created.status).toBe(202);

  const waited = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=1`);
  expect(waited.status).toBe(200);
  expect(waited.json).toMatchObject({ status: 'queued', output: null, receipt: null, usage: null });

  // Two more wait behind it; a queued job shows how many wait in its model's queue (Temporal's approximate count).
  const behind = await Promise.all([1, 2].map((i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `behind ${i}`, max_tokens: 5 })));
  const deadline = Date.now() + 10_000;
  let queued: any;
  while (Date.now() < deadline && !(queued?.queue_backlog >= 3)) {
    queued = (await api(stack, 'GET', `/v1/jobs/${created.json.id}`)).json;
    await new Promise((r) => setTimeout(r, 200));
  }
  // Approximate: tasks whose warm wait expired stay counted until a poller drops them.
  expect(queued).toMatchObject({ status: 'queued', attempt: 1, worker_id: null });
  expect(queued.queue_backlog).toBeGreaterThanOrEqual(3);

  const receiptEarly = await api(stack, 'GET', `/v1/jobs/${created.json.id}/receipt`);
  expect(receiptEarly.status).toBe(404);
  expect(receiptEarly.json.error.message).toBe('the job has not finished yet');

  const runnerStartedAt = Date.now();
  const runner = await stack.startRunner();
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json.status).toBe('succeeded');
  const acceptedAt = Date.parse(done.json.created_at);
  // It waited at least until the runner was up, and the timing says so.
  expect(done.json.timings.queue_wait_ms).toBeGreaterThanOrEqual(runnerStartedAt - acceptedAt);
  expect(done.json.usage.completion_tokens).toBe(5);
  expect(done.json.queue_backlog).toBeUndefined();
  for (const b of behind) expect((await api(stack, 'GET', `/v1/jobs/${b.json.id}?wait=30`)).json.status).toBe('succeeded');
  await runner.stop();
});

test('a job parked on the warm queue goes to a runner that starts cold', async () => {
  const created = await api(stack, 'POST', '/v1/jobs?wait=2', { model: 'trd-tiny', prompt: 'anyone with it on disk?', max_tokens: 5 });
  expect(created.json.status).toBe('queued');
  await stack.startRunner({ workerId: 'late-and-cold', load: 'on-demand' });
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'late-and-cold' });
  expect(done.json.timings.model_load_ms).toBeGreaterThan(0);
});
