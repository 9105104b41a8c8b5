/**
 * A cluster (devstack/cluster.ts) for one test file: its own Temporal cluster
 * and balancers, the platform's database cloned on global setup's PostgreSQL,
 * the test bounds of test/support/stack.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeClusterDir, startCluster, type LocalCluster } from '../../devstack/cluster.js';
import { serviceEndpoints, TEST_JOB_LIMITS, TEST_RUNNER_HEARTBEAT_MS, testNamespace } from '../support/stack.js';
import { dispatchSettings } from '../../dispatch/settings.js';

export type TestCluster = LocalCluster;

export async function startTestCluster(opts: Omit<Parameters<typeof startCluster>[1], 'dir'> = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'trd-cluster-'));
  // Global setup's PostgreSQL, template, bundle and model; not its dev server: the cluster is its own Temporal.
  const { temporalAddress: _devServer, ...services } = serviceEndpoints();
  const cluster = await startCluster(services, {
    namespace: testNamespace(),
    ...opts,
    dir,
    jobLimits: { ...TEST_JOB_LIMITS, ...opts.jobLimits },
    settings: { ...opts.settings, dispatch: { ...dispatchSettings({}), runnerHeartbeatIntervalMs: TEST_RUNNER_HEARTBEAT_MS, ...opts.settings?.dispatch } },
    // HAProxy takes a dead replica (connection refused) out within ~1.5 s; a busy one answers within 5 s.
    lb: { checkIntervalMs: 500, fall: 3, ...opts.lb },
    temporal: { shards: 8, namespaceRefreshMs: 1000, ...opts.temporal },
    // A new signing key signs 15 s after it is published: long enough to roll two orchestrators on a slow machine.
    signingKeyPublishMs: opts.signingKeyPublishMs ?? 15_000,
    signingKeyRefreshMs: opts.signingKeyRefreshMs ?? 500,
    echo: opts.echo ?? (process.env.TRD_TEST_ECHO ? (line) => console.log(line) : undefined),
  });
  const stop = cluster.stop;
  cluster.stop = async () => {
    await stop();
    removeClusterDir(dir);
  };
  return cluster;
}

/** Waits until every job is terminal in the platform's database; returns them. */
export async function waitForJobsInDb(cluster: TestCluster, ids: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await cluster.db.job.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, error: true, workerId: true } });
    const open = jobs.filter((j) => j.status !== 'succeeded' && j.status !== 'failed' && j.status !== 'cancelled');
    if (jobs.length === ids.length && open.length === 0) return jobs;
    if (Date.now() > deadline) throw new Error(`${open.length + ids.length - jobs.length} of ${ids.length} jobs not finished after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** One ledger transaction per job, each balanced (the customer's charge = the runner's earning + the platform's share). */
export async function expectLedgerBalanced(cluster: TestCluster, ids: string[], expect: typeof import('@jest/globals').expect) {
  const transactions = await cluster.db.ledgerTransaction.findMany({ where: { jobId: { in: ids } }, include: { entries: true } });
  expect(transactions).toHaveLength(ids.length);
  expect(new Set(transactions.map((t) => t.jobId))).toEqual(new Set(ids));
  let charged = 0n;
  for (const t of transactions) {
    const byKind = (prefix: string) => t.entries.filter((e) => e.account.startsWith(prefix)).reduce((s, e) => s + e.amount, 0n);
    const charge = -byKind('customer:');
    expect(charge).toBeGreaterThan(0n);
    expect(byKind('runner:') + byKind('platform:')).toBe(charge);
    expect(t.entries.reduce((s, e) => s + e.amount, 0n)).toBe(0n);
    charged += charge;
  }
  return charged;
}
