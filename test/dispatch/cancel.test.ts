/** Customer cancellation: the runner stops generating, and only what it generated is charged. */
import { expect, test } from '@jest/globals';
import { chargeMicrocredits } from '../../economy/billing.js';
import { api, useStack, waitForJob } from '../support/stack.js';

const stack = useStack({}, async () => {
  await stack.startRunner({ workerId: 'patient', env: { TRD_RUNNER_FAULTS: 'token-delay-ms=20' } });
});

const ledgerOf = (jobId: string) => stack.db.ledgerEntry.findMany({ where: { transaction: { jobId } } });

test('cancelling a running job stops generation and charges only the tokens generated', async () => {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'a long story', max_tokens: 400 });
  await waitForJob(stack, created.json.id, (j) => j.status === 'running' && j.worker_id === 'patient');
  await new Promise((r) => setTimeout(r, 1000));

  const asked = Date.now();
  const res = await api(stack, 'POST', `/v1/jobs/${created.json.id}/cancel`);
  expect(res.status).toBe(200);
  const job = res.json;
  expect(job.status).toBe('cancelled');
  // 400 tokens take 8 s at 20 ms each; it stopped within a heartbeat or two of the request.
  expect(Date.now() - asked).toBeLessThan(3000);
  expect(job.usage.completion_tokens).toBeGreaterThan(10);
  expect(job.usage.completion_tokens).toBeLessThan(400);
  expect(job.output.length).toBeGreaterThan(0);
  expect(job.finish_reason).toBe('cancelled');
  expect(job.billing.billable_ms).toBeGreaterThan(0);
  expect(job.billing.charge_microcredits).toBe(chargeMicrocredits(job.billing.billable_ms, 36));
  const entries = await ledgerOf(job.id);
  expect(entries.reduce((s, e) => s + e.amount, 0n)).toBe(0n);
  expect(entries.find((e) => e.account === 'runner:patient')!.amount).toBeGreaterThan(0n);
  expect((await api(stack, 'GET', `/v1/jobs/${job.id}/receipt`)).json.error.message).toMatch(/cancelled/);

  // The runner is free again at once: the next job does not wait for the cancelled one's 400 tokens.
  const next = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'next', max_tokens: 4 });
  expect(next.json).toMatchObject({ status: 'succeeded', worker_id: 'patient' });
  expect(Date.now() - asked).toBeLessThan(5000);
});

test('cancelling a queued job means it never runs and costs nothing', async () => {
  // Nobody of tier "trusted" serves here, so the job waits in its queue.
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'never', max_tokens: 4, min_tier: 'trusted' });
  expect((await api(stack, 'GET', `/v1/jobs/${created.json.id}`)).json.status).toBe('queued');
  const res = await api(stack, 'POST', `/v1/jobs/${created.json.id}/cancel`);
  expect(res.json).toMatchObject({ status: 'cancelled', output: null, billing: { billable_ms: 0, charge_microcredits: 0 } });
  expect(await ledgerOf(created.json.id)).toEqual([]);
});

test('a finished job cannot be cancelled, and the answer says why', async () => {
  const done = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'quick', max_tokens: 2 });
  expect(done.json.status).toBe('succeeded');
  const res = await api(stack, 'POST', `/v1/jobs/${done.json.id}/cancel`);
  expect(res.status).toBe(409);
  expect(res.json.error.message).toMatch(/already succeeded/);
  expect((await api(stack, 'POST', '/v1/jobs/job_00000000000000000000000000000000/cancel')).status).toBe(404);
});
