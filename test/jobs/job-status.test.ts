/** A job waits, queued, until a runner for its model polls; the wait shows in its timings. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.stop();
});

test('a job is queued while no runner serves its model, then runs when one starts', async () => {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'waiting', max_tokens: 5 });
  expect(created.status).toBe(202);

  const waited = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=1`);
  expect(waited.status).toBe(200);
  expect(waited.json).toMatchObject({ status: 'queued', attempt: 1, output: null, receipt: null, usage: null });

  const receiptEarly = await api(stack, 'GET', `/v1/jobs/${created.json.id}/receipt`);
  expect(receiptEarly.status).toBe(404);
  expect(receiptEarly.json.error.message).toBe('the job has not finished yet');

  const runnerStartedAt = Date.now();
  await stack.startRunner();
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json.status).toBe('succeeded');
  const acceptedAt = Date.parse(done.json.created_at);
  // It waited at least until the runner was up, and the timing says so.
  expect(done.json.timings.queue_wait_ms).toBeGreaterThanOrEqual(runnerStartedAt - acceptedAt);
  expect(done.json.usage.completion_tokens).toBe(5);
});
