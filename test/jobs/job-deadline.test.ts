/**
 * A job that does not finish by its deadline fails with a reason, leaves no
 * output or receipt, and is not charged. A job still generating at its
 * deadline: test/workflows/job-routing.
 */
import { expect, test } from '@jest/globals';
import { api, useStack } from '../support/stack.js';

const stack = useStack({ jobLimits: { deadlineMs: 1000 } }, async () => {
  await stack.startRunner();
});

test('a job for a model no runner serves fails at its deadline', async () => {
  // A runner serves trd-tiny here; nobody serves this catalog model.
  const res = await api(stack, 'POST', '/v1/jobs?wait=20', { model: 'qwen2.5-0.5b-instruct', prompt: 'anyone?', max_tokens: 5 });
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ status: 'failed', error: 'no runner took the job before its deadline', output: null, receipt: null, usage: null });
  const row = await stack.db.job.findUnique({ where: { id: res.json.id }, include: { receipt: true } });
  expect(row).toMatchObject({ status: 'failed', receipt: null });
  expect(row?.finishedAt).not.toBeNull();
  expect(res.json.billing).toEqual({ billable_ms: 0, charge_microcredits: 0 });
  expect(await stack.db.ledgerTransaction.count({ where: { jobId: res.json.id } })).toBe(0);
});

test('the runner for another model is not disturbed', async () => {
  const res = await api(stack, 'POST', '/v1/jobs?wait=20', { model: 'trd-tiny', prompt: 'still here', max_tokens: 3 });
  expect(res.json.status).toBe('succeeded');
});
