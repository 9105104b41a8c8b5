/**
 * What the runner endpoint (runner-proxy/: TLS, token and queue checks,
 * payload sealing and opening) adds to a job's latency: the same jobs, one
 * at a time, on a platform whose runner connects straight to Temporal with
 * nothing sealed (the baseline) and on one whose runner goes through the
 * endpoint. Prints p50/p99 of the round trip (POST /v1/jobs?wait) for each.
 *
 *   node --import tsx scripts/bench-runner-endpoint.ts [--jobs 100] [--tokens 16] [--json]
 */
import { parseArgs } from 'node:util';
import { startPlatform } from '../devstack/platform.js';
import { startEphemeralServices } from '../devstack/services.js';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '100' }, tokens: { type: 'string', default: '16' }, json: { type: 'boolean', default: false } } });
const jobs = Number(values.jobs);
const tokens = Number(values.tokens);
if (!Number.isSafeInteger(jobs) || jobs < 1 || !Number.isSafeInteger(tokens) || tokens < 1) {
  console.error('bench-runner-endpoint: --jobs and --tokens must be positive integers');
  process.exit(2);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const services = await startEphemeralServices({ namespaces: ['bench-bypass', 'bench-endpoint'] });
const results: Record<string, { p50: number; p99: number; mean: number; calls?: number }> = {};
try {
  for (const mode of ['bypass', 'endpoint'] as const) {
    const platform = await startPlatform(services, { namespace: `bench-${mode}`, runnerEndpoint: { bypass: mode === 'bypass' } });
    try {
      await platform.startRunner();
      const run = async () => {
        const started = performance.now();
        const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=30`, {
          method: 'POST',
          headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'trd-tiny', prompt: `Benchmark ${Math.random()}`, max_tokens: tokens }),
        });
        const job = await res.json();
        if (job.status !== 'succeeded') throw new Error(`job ${job.id} ended ${job.status}: ${JSON.stringify(job.error)}`);
        return performance.now() - started;
      };
      for (let i = 0; i < 5; i++) await run();
      const times: number[] = [];
      for (let i = 0; i < jobs; i++) times.push(await run());
      times.sort((a, b) => a - b);
      results[mode] = {
        p50: Math.round(pct(times, 50)),
        p99: Math.round(pct(times, 99)),
        mean: Math.round(times.reduce((a, b) => a + b, 0) / times.length),
        ...(mode === 'endpoint' ? { calls: platform.runnerEndpoint.proxy!.stats.forwarded } : {}),
      };
    } finally {
      await platform.stop();
    }
  }
} finally {
  await services.stop();
}
const delta = { p50: results.endpoint.p50 - results.bypass.p50, p99: results.endpoint.p99 - results.bypass.p99 };
if (values.json) console.log(JSON.stringify({ jobs, tokens, ...results, delta }));
else {
  console.log(`${jobs} jobs of ${tokens} tokens, one at a time (round trip of POST /v1/jobs?wait, ms)`);
  console.log(`  straight to Temporal, nothing sealed   p50 ${results.bypass.p50}  p99 ${results.bypass.p99}  mean ${results.bypass.mean}`);
  console.log(`  through the runner endpoint            p50 ${results.endpoint.p50}  p99 ${results.endpoint.p99}  mean ${results.endpoint.mean}  (${results.endpoint.calls} calls forwarded)`);
  console.log(`  the endpoint adds                      p50 ${delta.p50}  p99 ${delta.p99}`);
}
process.exit(0);
