/**
 * The runner's watchdog: a generation that makes no progress for
 * --stall-timeout-ms is aborted and handed back as stalled (long before the
 * heartbeat timeout), and the runner goes on serving.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { workflowIdForJob } from '@trd/protocol';
import { api, startStack, type TestStack } from '../support/stack.js';

const HEARTBEAT_TIMEOUT_MS = 10_000;
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ jobLimits: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, maxAttempts: 10, retryInitialIntervalMs: 300 } });
});

afterAll(async () => {
  await stack?.stop();
});

test('a stalled generation is aborted and reported; the job finishes elsewhere and the runner takes the next job', async () => {
  const watchful = await stack.startRunner({
    workerId: 'watchful',
    env: { TRD_RUNNER_FAULTS: 'stall-after-tokens=3' },
    extraArgs: ['--stall-timeout-ms', '500'],
  });
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'stall me', max_tokens: 20 });
  const handle = stack.client.workflow.getHandle(workflowIdForJob(created.json.id));

  // The runner says it stalled: Temporal holds its failure as the job's last one, and retries.
  let lastFailure: any;
  const deadline = Date.now() + 10_000;
  while (!lastFailure && Date.now() < deadline) {
    const { raw } = await handle.describe();
    lastFailure = raw.pendingActivities?.find((a) => a.lastFailure)?.lastFailure;
    if (!lastFailure) await new Promise((r) => setTimeout(r, 100));
  }
  expect(lastFailure?.applicationFailureInfo?.type).toBe('Stalled');
  expect(lastFailure?.message).toMatch(/runner watchful stalled after 3 token\(s\): .*no new token for 500 ms/);

  const healthy = await stack.startRunner({ workerId: 'healthy' });
  const healthyFrom = Date.now();
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'healthy', usage: { completion_tokens: 20 } });
  // Each stall is handed back by the runner itself within ~0.5 s, so the healthy runner gets the job long
  // before a 10 s heartbeat timeout could have found it (its own start-up, slow on a loaded machine, not counted).
  expect(Date.now() - healthyFrom).toBeLessThan(HEARTBEAT_TIMEOUT_MS);

  await healthy.stop();
  const next = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'short', max_tokens: 2 });
  expect(next.json).toMatchObject({ status: 'succeeded', worker_id: 'watchful' });
  expect(watchful.child.exitCode).toBeNull();
});
