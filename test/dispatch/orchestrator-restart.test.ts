/** The orchestrator process crashes (SIGKILL) mid-job and comes back: the job completes, once. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ orchestrator: 'process' });
  await stack.startRunner({ workerId: 'steady', env: { TRD_RUNNER_FAULTS: 'token-delay-ms=20' } });
});

afterAll(async () => {
  await stack?.stop();
});

test('a job survives an orchestrator crash', async () => {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'through a crash', max_tokens: 100 });
  await waitForJob(stack, created.json.id, (j) => j.status === 'running');
  await stack.stopOrchestrator('SIGKILL');
  // The runner finishes while no orchestrator is up; its result waits in Temporal.
  await new Promise((r) => setTimeout(r, 3000));
  expect((await api(stack, 'GET', `/v1/jobs/${created.json.id}`)).json.status).not.toBe('succeeded');
  await stack.startOrchestrator();
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'steady' });
  expect(done.json.usage.completion_tokens).toBe(100);
  expect(await stack.db.receipt.count()).toBe(1);
});

test('jobs accepted while the orchestrator is down complete when it is back', async () => {
  await stack.stopOrchestrator('SIGKILL');
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `accepted blind ${i}`, max_tokens: 4 });
    expect(res.status).toBe(202);
    ids.push(res.json.id);
  }
  await stack.startOrchestrator();
  for (const id of ids) expect((await api(stack, 'GET', `/v1/jobs/${id}?wait=30`)).json.status).toBe('succeeded');
});
