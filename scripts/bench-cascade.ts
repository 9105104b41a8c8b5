/**
 * `node --import tsx scripts/bench-cascade.ts [--streams N]`: the cascade's
 * fall-through latency, measured in one run. A platform with no runner sends
 * trd-tiny jobs to its upstream tier, a second platform (its own namespace,
 * database, gateway and one runner); the same requests sent to that second
 * platform directly are the baseline.
 *   1. no runner → the provider's first token at the client (streamed chat), p50/p99,
 *      against the provider's own first token asked directly;
 *   2. what the receipt and the ledger show for a job of each tier (provider, then network
 *      once a runner joins).
 * The warm wait (TRD_WARM_WAIT_MS, 1 s by default) is most of the difference: a job waits that
 * long for a free runner before it falls through; --warm-wait-ms sets it.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseArgs } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { parseCascade } from '../cascade/config.js';
import { startPlatform, type LocalPlatform } from '../devstack/platform.js';
import { startEphemeralServices } from '../devstack/services.js';

const { values } = parseArgs({ options: { streams: { type: 'string', default: '30' }, 'warm-wait-ms': { type: 'string', default: '1000' } } });
const STREAMS = Number(values.streams);
const WARM_WAIT_MS = Number(values['warm-wait-ms']);
const messages = [{ role: 'user' as const, content: 'Benchmark the cascade' }];
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const pct = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5).toFixed(0)} ms, p99 ${quantile(s, 0.99).toFixed(0)} ms`;
};

async function firstTokenMs(client: OpenAI): Promise<number> {
  const started = performance.now();
  let first: number | null = null;
  const stream = await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 16, temperature: 0, stream: true });
  for await (const chunk of stream) if (first === null && chunk.choices[0]?.delta?.content) first = performance.now() - started;
  return first ?? performance.now() - started;
}

async function show(p: LocalPlatform, client: OpenAI, label: string) {
  const { data, response } = await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 8, temperature: 0 }).withResponse();
  const jobId = response.headers.get('x-trd-job-id')!;
  const entries = await p.db.ledgerEntry.findMany({ where: { transactionId: `job:${jobId}` }, orderBy: { account: 'asc' } });
  const { envelope } = (data as any).trd_receipt;
  console.log(`\n${label}: trd_served_by ${(data as any).trd_served_by}`);
  console.log(`  receipt: ${JSON.stringify({ served_by: envelope.served_by, worker_id: envelope.worker_id, model: envelope.model, model_sha256: envelope.model_sha256, upstream_model: envelope.upstream_model, completion_tokens: envelope.completion_tokens })}`);
  console.log(`  ledger job:${jobId}: ${entries.map((e) => `${e.account} ${Number(e.amount)}`).join(', ')} (µcr)`);
}

Runtime.install({ logger: new DefaultLogger('WARN') });
const services = await startEphemeralServices({ namespaces: ['bench-cascade', 'bench-cascade-peer'] });
let peer: LocalPlatform | null = null;
let home: LocalPlatform | null = null;
try {
  peer = await startPlatform(services, { namespace: 'bench-cascade-peer' });
  await peer.startRunner({ workerId: 'peer-runner' });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'bench-cascade-')), 'peer.key');
  writeFileSync(keyFile, peer.apiKey);
  const price = { per: 'token', promptMicrocreditsPer1k: 2000, completionMicrocreditsPer1k: 6000 } as const;
  const cost = { per: 'token', promptMicrocreditsPer1k: 1000, completionMicrocreditsPer1k: 3000 } as const;
  const cascade = parseCascade({
    version: 1,
    models: { 'trd-tiny': [{ kind: 'network' }, { kind: 'provider', name: 'peer', baseUrl: `${peer.baseUrl}/v1`, model: 'trd-tiny', apiKey: { file: keyFile }, price, cost, timeoutMs: 30_000, concurrency: 8 }] },
  });
  home = await startPlatform(services, { namespace: 'bench-cascade', jobLimits: { warmWaitMs: WARM_WAIT_MS }, settings: { cascade } });
  const direct = new OpenAI({ apiKey: peer.apiKey, baseURL: `${peer.baseUrl}/v1`, maxRetries: 0 });
  const viaCascade = new OpenAI({ apiKey: home.apiKey, baseURL: `${home.baseUrl}/v1`, maxRetries: 0 });
  // One of each first: the first job of a platform pays for its first workflow task and connections.
  await firstTokenMs(direct);
  await firstTokenMs(viaCascade);
  const directMs: number[] = [];
  const cascadeMs: number[] = [];
  for (let i = 0; i < STREAMS; i++) {
    directMs.push(await firstTokenMs(direct));
    cascadeMs.push(await firstTokenMs(viaCascade));
  }
  console.log(`cascade fall-through, ${STREAMS} streamed chats each, warm wait ${WARM_WAIT_MS} ms, one at a time:`);
  console.log(`  no runner → provider's first token at the client: ${pct(cascadeMs)}`);
  console.log(`  the provider asked directly, first token:          ${pct(directMs)}`);
  const diff = cascadeMs.map((ms, i) => ms - directMs[i]!);
  console.log(`  added by the fall-through (pairwise):               ${pct(diff)}`);
  await show(home, viaCascade, 'a job the provider tier served');
  await home.startRunner({ workerId: 'home-runner' });
  await show(home, viaCascade, 'a job the network served (a runner joined)');
} finally {
  await home?.stop();
  await peer?.stop();
  await services.stop();
}
