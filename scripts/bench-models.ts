/**
 * The real-model figures, in one run on SmolLM2 135M Instruct (from the cache
 * scripts/setup.sh fills), for each runner thread count asked for:
 *   1. time to first token through the stack as a client sees it (a streamed
 *      completion), cold (the runner's first job loads the model) and warm;
 *   2. the same greedy generation, --tokens 128 and 512, bare node-llama-cpp
 *      in this process and through gateway + Temporal + runner endpoint +
 *      runner (POST /v1/jobs?wait), interleaved pair by pair (the order
 *      alternating) so the machine's load hits both alike: tokens/s over
 *      prompt + generation as the client sees it, the through-stack share of
 *      bare (median of the pairs' ratios), and the per-job overhead (client
 *      wall time minus the runner's compute) as a share of the job.
 * Only what the runner does differs between thread counts, so with
 * `--threads 1,2` the last lines compare them for `npm run dev`.
 * Usage: node --import tsx scripts/bench-models.ts [--threads 1,2] [--runs 2] [--tokens 128,512]
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceEngine } from '../gpu-runner/src/engine.js';
import { pullModel } from '../gpu-runner/src/model-store.js';
import { startPlatform } from '../devstack/platform.js';
import { startEphemeralServices } from '../devstack/services.js';
import { envPath } from '../platform/env.js';

const { values } = parseArgs({
  options: { threads: { type: 'string', default: '1' }, runs: { type: 'string', default: '2' }, tokens: { type: 'string', default: '128,512' } },
});
const list = (name: string, raw: string) => {
  const xs = raw.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) {
    console.error(`bench-models: --${name} takes positive integers separated by commas, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return xs;
};
const THREADS = list('threads', values.threads!);
const TOKENS = list('tokens', values.tokens!);
const [RUNS] = list('runs', values.runs!);
const MODEL = 'smollm2-135m-instruct';
// A raw completion prompt that SmolLM2 continues for hundreds of tokens, greedily the same every time.
const PROMPT = 'Chapter 1\n\nThe history of the city begins in the year 1200, when';
const modelsDir = join(envPath(process.env, 'TRD_CACHE_DIR'), 'models');
await pullModel(MODEL, { modelsDir });
const modelPath = join(modelsDir, `${MODEL}.gguf`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

Runtime.install({ logger: new DefaultLogger('ERROR') });
const services = await startEphemeralServices({ namespaces: ['bench-models'] });
const platform = await startPlatform(services, { namespace: 'bench-models', jobLimits: { heartbeatTimeoutMs: 30_000, deadlineMs: 600_000 } });
const headers = { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' };

/** One job through the whole stack, waited for; the runner's own timings come back with it. */
async function stackJob(tokens: number) {
  const started = performance.now();
  const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=300`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: tokens, temperature: 0 }),
  });
  let j: any = await res.json();
  // A wait is capped by the gateway (maxWaitSeconds): a slow job is waited for again until it ends.
  while (res.ok && (j.status === 'queued' || j.status === 'running')) {
    j = await (await fetch(`${platform.baseUrl}/v1/jobs/${j.id}?wait=300`, { headers })).json();
  }
  const wallMs = performance.now() - started;
  if (j.status !== 'succeeded') throw new Error(`job ${j.id} ended ${j.status}: ${JSON.stringify(j.error)}`);
  return { wallMs, tokens: j.usage.completion_tokens as number, computeMs: (j.timings.time_to_first_token_ms + j.timings.generation_ms) as number, loadMs: j.timings.model_load_ms as number };
}

/** Client-side time to the first streamed text of a completion. */
async function streamedFirstTokenMs(): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${platform.baseUrl}/v1/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: 16, temperature: 0, stream: true }),
  });
  if (!res.ok || !res.body) throw new Error(`streamed completion: ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffered = '';
  let first: number | null = null;
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true });
    if (first === null && /"text":"[^"]/.test(buffered)) first = performance.now() - started;
  }
  if (first === null) throw new Error(`the stream carried no text: ${buffered.slice(0, 300)}`);
  return first;
}

const summary: string[] = [];
try {
  console.log(`bench-models: ${MODEL}, ${RUNS} interleaved pair(s) per length, runner threads ${THREADS.join(' and ')}`);
  for (const [i, threads] of THREADS.entries()) {
    const engine = await InferenceEngine.load({ modelPath, sequences: 1, threads, contextSize: 2048 });
    const runner = await platform.startRunner({ workerId: `bench-runner-${i + 1}`, models: [MODEL], modelsDir, load: 'on-demand', extraArgs: ['--threads', String(threads)], readyTimeoutMs: 120_000 });
    try {
      const cold = await streamedFirstTokenMs();
      const warm = [await streamedFirstTokenMs(), await streamedFirstTokenMs()];
      console.log(`  ${threads} thread(s): time to first streamed token (client): cold ${cold.toFixed(0)} ms (model load included, unbilled), warm ${median(warm).toFixed(0)} ms`);
      await engine.generate({ prompt: PROMPT, maxTokens: 8, temperature: 0 }); // the bare side's warm-up
      for (const tokens of TOKENS) {
        const pairs: Array<{ bareTokS: number; stackTokS: number; overhead: number; count: number }> = [];
        for (let r = 0; r < RUNS; r++) {
          const bare = async () => {
            const started = performance.now();
            const g = await engine.generate({ prompt: PROMPT, maxTokens: tokens, temperature: 0 });
            return { count: g.completionTokens, tokS: (g.completionTokens * 1000) / (performance.now() - started) };
          };
          const [b, s] = r % 2 === 0 ? [await bare(), await stackJob(tokens)] : await (async () => { const s = await stackJob(tokens); return [await bare(), s] as const; })();
          if (b.count !== s.tokens) throw new Error(`bare generated ${b.count} tokens, the stack ${s.tokens}: not the same generation`);
          pairs.push({ bareTokS: b.tokS, stackTokS: (s.tokens * 1000) / s.wallMs, overhead: (s.wallMs - s.computeMs) / s.wallMs, count: s.tokens });
        }
        const ratio = median(pairs.map((p) => p.stackTokS / p.bareTokS));
        const line = `${threads} thread(s), ${tokens} tokens (${pairs[0]!.count} generated): bare ${median(pairs.map((p) => p.bareTokS)).toFixed(1)} tok/s, through the stack ${median(pairs.map((p) => p.stackTokS)).toFixed(1)} tok/s = ${pct(ratio)} of bare (pairs ${pairs.map((p) => pct(p.stackTokS / p.bareTokS)).join(', ')}); per-job overhead ${pct(median(pairs.map((p) => p.overhead)))} of the job`;
        console.log(`  ${line}`);
        summary.push(line);
      }
    } finally {
      await runner.stop();
      await engine.dispose();
    }
  }
  if (THREADS.length > 1) {
    console.log('summary (through the stack, what `npm run dev` serves):');
    for (const line of summary) console.log(`  ${line}`);
  }
} finally {
  await platform.stop();
  await services.stop();
}
