/**
 * The Temporal server itself crashes (SIGKILL) mid-job and starts again on
 * the same SQLite file: every accepted job completes, once.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../devstack/ports.js';
import { findTemporalCli, startTemporalDevServer, type TemporalDevServer } from '../../devstack/temporal.js';
import { api, startStack, testNamespace, waitForJob, type TestStack } from '../support/stack.js';

let temporal: TemporalDevServer;
let stack: TestStack;
let startTemporal: () => Promise<TemporalDevServer>;

beforeAll(async () => {
  const port = await freePort();
  const dbFile = join(mkdtempSync(join(tmpdir(), 'temporal-db-')), 'temporal.db');
  startTemporal = () => startTemporalDevServer({ cli: findTemporalCli(), port, dbFile, namespaces: [testNamespace()] });
  temporal = await startTemporal();
  // Deadline well past the outage; accepting a job gives up on a dead Temporal after 2 s.
  stack = await startStack({ services: { temporalAddress: temporal.address }, jobLimits: { deadlineMs: 180_000 }, settings: { startTimeoutMs: 2000 } });
  await stack.startRunner({ workerId: 'survivor', env: { TRD_RUNNER_FAULTS: 'token-delay-ms=20' } });
});

afterAll(async () => {
  await stack?.stop();
  await temporal?.stop();
});

test('jobs accepted before a Temporal crash complete after it restarts', async () => {
  const running = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'mid-crash', max_tokens: 100 });
  const queued: string[] = [];
  for (let i = 0; i < 3; i++) queued.push((await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `queued ${i}`, max_tokens: 10 })).json.id);
  await waitForJob(stack, running.json.id, (j) => j.status === 'running');

  await temporal.stop('SIGKILL');
  // While Temporal is down the gateway still answers from PostgreSQL, and refuses new jobs honestly.
  const during = await api(stack, 'GET', `/v1/jobs/${running.json.id}`);
  expect(during.status).toBe(200);
  const askedAt = Date.now();
  const refused = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'not now', max_tokens: 2 });
  expect(refused.status).toBe(503);
  // Two 2 s bounds (start, then the check whether it started anyway) and slack; unbounded, it took ~35 s.
  expect(Date.now() - askedAt).toBeLessThan(10_000);
  expect(refused.json.error.code).toBe('scheduler_unavailable');

  temporal = await startTemporal();
  for (const id of [running.json.id, ...queued]) {
    const done = await waitForJob(stack, id, (j) => j.status === 'succeeded' || j.status === 'failed', 90_000);
    expect({ id, status: done.status, error: done.error }).toEqual({ id, status: 'succeeded', error: null });
  }
  expect(await stack.db.receipt.count()).toBe(4);
  // The refused job is on record as never scheduled, not left looking alive.
  expect(await stack.db.job.count({ where: { status: 'failed', error: 'could not be scheduled' } })).toBe(1);
});
