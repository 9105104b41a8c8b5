/** A job that requires a trust tier goes only to runners of that tier or above. */
import { expect, test } from '@jest/globals';
import type { ManagedProcess } from '../../devstack/processes.js';
import { api, useStack } from '../support/stack.js';

let veteran: ManagedProcess;

const stack = useStack({}, async () => {
  [, veteran] = await Promise.all([stack.startRunner({ workerId: 'newcomer' }), stack.startRunner({ workerId: 'veteran', tier: 'trusted' })]);
});

const run = (minTier: string | undefined, i: number) =>
  api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `tier ${i}`, max_tokens: 4, ...(minTier ? { min_tier: minTier } : {}) });

test('jobs that require "verified" or "trusted" all go to the trusted runner', async () => {
  for (let i = 0; i < 10; i++) {
    const res = await run(i % 2 ? 'verified' : 'trusted', i);
    expect(res.json).toMatchObject({ status: 'succeeded', worker_id: 'veteran', min_tier: i % 2 ? 'verified' : 'trusted' });
  }
});

test('jobs with no requirement go to both', async () => {
  const workers = new Set<string>();
  const jobs = await Promise.all(Array.from({ length: 12 }, (_, i) => run(undefined, 100 + i)));
  for (const j of jobs) {
    expect(j.json.status).toBe('succeeded');
    workers.add(j.json.worker_id);
  }
  expect([...workers].sort()).toEqual(['newcomer', 'veteran']);
});

test('the eligible-workers call filters by tier', async () => {
  const all = await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny');
  expect(all.json.data.map((r: any) => r.worker_id).sort()).toEqual(['newcomer', 'veteran']);
  const trusted = await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny&min_tier=trusted');
  expect(trusted.json.data.map((r: any) => [r.worker_id, r.tier])).toEqual([['veteran', 'trusted']]);
});

test('a job that requires a tier nobody has stays queued, and a bad tier is refused', async () => {
  await veteran.stop();
  const waiting = await api(stack, 'POST', '/v1/jobs?wait=3', { model: 'trd-tiny', prompt: 'trusted only', max_tokens: 4, min_tier: 'trusted' });
  expect(waiting.status).toBe(202);
  expect((await api(stack, 'GET', `/v1/jobs/${waiting.json.id}`)).json).toMatchObject({ status: 'queued', worker_id: null });
  // Meanwhile the probation runner is free and working.
  expect((await run(undefined, 999)).json).toMatchObject({ status: 'succeeded', worker_id: 'newcomer' });
  expect((await api(stack, 'POST', `/v1/jobs/${waiting.json.id}/cancel`)).json.status).toBe('cancelled');

  const bad = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'x', max_tokens: 4, min_tier: 'platinum' });
  expect(bad.status).toBe(400);
  expect(bad.json.error.message).toMatch(/min_tier/);
});
