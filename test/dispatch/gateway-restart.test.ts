/** The gateway process crashes while jobs run; clients that keep polling get their results once it is back. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ gateway: 'process' });
  await stack.startRunner({ workerId: 'busy', env: { TRD_RUNNER_FAULTS: 'token-delay-ms=20' } });
});

afterAll(async () => {
  await stack?.stop();
});

/** A client that polls until the job is done, shrugging off a gateway that is not there. */
async function pollUntilDone(id: string, timeoutMs: number): Promise<{ job: any; connectionErrors: number }> {
  const deadline = Date.now() + timeoutMs;
  let connectionErrors = 0;
  while (Date.now() < deadline) {
    try {
      const res = await api(stack, 'GET', `/v1/jobs/${id}`);
      if (res.status === 200 && (res.json.status === 'succeeded' || res.json.status === 'failed')) return { job: res.json, connectionErrors };
    } catch {
      connectionErrors++;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${id} not done within ${timeoutMs} ms`);
}

test('jobs finish across a gateway crash and restart', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `job ${i}`, max_tokens: 40 });
    expect(res.status).toBe(202);
    ids.push(res.json.id);
  }
  const polls = ids.map((id) => pollUntilDone(id, 60_000));
  await stack.stopGateway('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  await stack.startGateway();
  const results = await Promise.all(polls);
  for (const { job } of results) expect(job).toMatchObject({ status: 'succeeded', worker_id: 'busy' });
  // The clients really did see the gateway gone.
  expect(results.reduce((n, r) => n + r.connectionErrors, 0)).toBeGreaterThan(0);
  expect(await stack.db.receipt.count()).toBe(4);
});
