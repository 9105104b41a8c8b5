/**
 * `node --import tsx scripts/bench-cluster.ts`: the platform on the Temporal
 * dev server (one process, SQLite, one history shard; devstack/platform.ts)
 * against the cluster mode (two Temporal nodes on PostgreSQL with several
 * shards, two gateways, two runner endpoints, two orchestrators, all behind
 * HAProxy; devstack/cluster.ts), in one run on this machine:
 *   1. dispatch overhead: --sequential jobs one at a time on one warm runner,
 *      accepted → first token (queue wait + model load + time to first token)
 *      and the client's round trip, p50/p99;
 *   2. a burst of --jobs jobs at once on two runners: jobs/s.
 * Prints both and the ratios (cluster / dev server). Options: --jobs N (300),
 * --sequential N (50), --shards N (8), --json (one JSON line).
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { availableParallelism } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { removeClusterDir, startCluster } from '../devstack/cluster.js';
import { startPlatform } from '../devstack/platform.js';
import { startEphemeralServices } from '../devstack/services.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '300' },
    sequential: { type: 'string', default: '50' },
    shards: { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const JOBS = Number(values.jobs);
const SEQUENTIAL = Number(values.sequential);
const SHARDS = Number(values.shards);
for (const [name, v] of [['--jobs', JOBS], ['--sequential', SEQUENTIAL], ['--shards', SHARDS]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench-cluster: ${name} must be a positive integer`);
    process.exit(2);
  }
}
const log = (line: string) => !values.json && console.log(line);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const pct = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50: Math.round(quantile(sorted, 0.5)), p99: Math.round(quantile(sorted, 0.99)) };
};

interface Target {
  baseUrl: string;
  apiKey: string;
  startRunner(o: { workerId: string }): Promise<{ stop(): Promise<void> }>;
}

interface Figures {
  acceptedToFirstTokenMs: { p50: number; p99: number };
  roundTripMs: { p50: number; p99: number };
  burstJobsPerSecond: number;
  burstSeconds: number;
}

async function post(t: Target, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${t.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.json();
}

async function get(t: Target, path: string): Promise<any> {
  const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${t.apiKey}` } });
  return res.json();
}

async function measure(t: Target, id: string, label: string): Promise<Figures> {
  await t.startRunner({ workerId: `${id}-a` });
  const overhead: number[] = [];
  const roundTrip: number[] = [];
  // Two warm-up jobs: the first loads Temporal's caches and the runner's first sequence.
  for (let i = 0; i < SEQUENTIAL + 2; i++) {
    const t0 = performance.now();
    const job = await post(t, '/v1/jobs?wait=60', { model: 'trd-tiny', prompt: `overhead ${i}`, max_tokens: 4 });
    if (job.status !== 'succeeded') throw new Error(`${label}: job ${job.id} ended ${job.status}: ${JSON.stringify(job.error)}`);
    if (i < 2) continue;
    roundTrip.push(performance.now() - t0);
    overhead.push(job.timings.queue_wait_ms + job.timings.model_load_ms + job.timings.time_to_first_token_ms);
  }
  await t.startRunner({ workerId: `${id}-b` });
  const started = performance.now();
  const created = await Promise.all(Array.from({ length: JOBS }, (_, i) => post(t, '/v1/jobs', { model: 'trd-tiny', prompt: `burst ${i}`, max_tokens: 4 })));
  const ids = created.map((c) => {
    if (!c.id) throw new Error(`${label}: a burst job was refused: ${JSON.stringify(c)}`);
    return c.id as string;
  });
  // A held GET ends at the gateway's wait bound with the job still queued: ask again until it finishes.
  const deadline = performance.now() + 15 * 60_000;
  for (let i = 0; i < ids.length; i += 50) {
    let open = ids.slice(i, i + 50);
    while (open.length) {
      const done = await Promise.all(open.map((id) => get(t, `/v1/jobs/${id}?wait=60`)));
      const failed = done.filter((d) => d.status === 'failed' || d.status === 'cancelled');
      if (failed.length) throw new Error(`${label}: ${failed.length} burst jobs did not succeed, e.g. ${JSON.stringify(failed[0])}`);
      open = done.filter((d) => d.status !== 'succeeded').map((d) => d.id);
      if (open.length && performance.now() > deadline) throw new Error(`${label}: ${open.length} burst jobs unfinished after 15 minutes`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const figures = { acceptedToFirstTokenMs: pct(overhead), roundTripMs: pct(roundTrip), burstJobsPerSecond: Number((JOBS / seconds).toFixed(1)), burstSeconds: Number(seconds.toFixed(1)) };
  log(
    `${label}: accepted → first token p50 ${figures.acceptedToFirstTokenMs.p50} / p99 ${figures.acceptedToFirstTokenMs.p99} ms; ` +
      `round trip p50 ${figures.roundTripMs.p50} / p99 ${figures.roundTripMs.p99} ms (${SEQUENTIAL} jobs one at a time); ` +
      `burst ${JOBS} jobs on 2 runners in ${figures.burstSeconds} s = ${figures.burstJobsPerSecond} jobs/s`,
  );
  return figures;
}

Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, console: {} } } });
const services = await startEphemeralServices({ namespaces: ['bench'] });
const dir = mkdtempSync(join(tmpdir(), 'trd-bench-cluster-'));
const results: Record<string, Figures> = {};
try {
  log(`${availableParallelism()} cores; ${JOBS}-job burst, ${SEQUENTIAL} sequential jobs, ${SHARDS} history shards on the cluster`);
  // The dev server first, with its runners stopped after, so the two never share the cores.
  const platform = await startPlatform(services, { namespace: 'bench', jobLimits: { deadlineMs: 10 * 60_000, progressCheckMs: 30_000 } });
  try {
    results.devServer = await measure(platform, 'dev', 'dev server (1 process, SQLite, 1 shard; gateway and orchestrator in one process)');
  } finally {
    await platform.stop();
  }
  const { temporalAddress: _devServer, ...endpoints } = services;
  const cluster = await startCluster(endpoints, {
    dir,
    namespace: 'bench',
    temporal: { shards: SHARDS },
    jobLimits: { deadlineMs: 10 * 60_000, progressCheckMs: 30_000 },
  });
  try {
    results.cluster = await measure(cluster, 'cluster', 'cluster (2 Temporal nodes on PostgreSQL, 2 gateways, 2 endpoints, 2 orchestrators, HAProxy)');
  } finally {
    await cluster.stop();
  }
  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  const ratios = {
    acceptedToFirstTokenP50: ratio(results.cluster.acceptedToFirstTokenMs.p50, results.devServer.acceptedToFirstTokenMs.p50),
    acceptedToFirstTokenP99: ratio(results.cluster.acceptedToFirstTokenMs.p99, results.devServer.acceptedToFirstTokenMs.p99),
    roundTripP50: ratio(results.cluster.roundTripMs.p50, results.devServer.roundTripMs.p50),
    burstJobsPerSecond: ratio(results.cluster.burstJobsPerSecond, results.devServer.burstJobsPerSecond),
  };
  log(
    `cluster / dev server: accepted → first token p50 ×${ratios.acceptedToFirstTokenP50}, p99 ×${ratios.acceptedToFirstTokenP99}; ` +
      `round trip p50 ×${ratios.roundTripP50}; burst jobs/s ×${ratios.burstJobsPerSecond}`,
  );
  if (values.json) console.log(JSON.stringify({ cores: availableParallelism(), jobs: JOBS, sequential: SEQUENTIAL, shards: SHARDS, ...results, ratios }));
} finally {
  await services.stop();
  removeClusterDir(dir);
}
