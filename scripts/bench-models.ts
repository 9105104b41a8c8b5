/**
 * The real-model figures, in one run on SmolLM2 135M Instruct (from the cache
 * scripts/setup.sh fills):
 *   1. bare node-llama-cpp in this process, 1 and 2 threads: tokens/s over
 *      prompt + generation, for --tokens 128 and 512 (the same greedy prompt);
 *   2. the same jobs through gateway + Temporal + runner endpoint + runner
 *      (POST /v1/jobs?wait): tokens/s the client sees, as a share of bare, and
 *      the per-job overhead (client wall time minus the runner's compute) as a
 *      share of the job;
 *   3. time to first token, cold (the runner's first job loads the model) and warm.
 * Usage: node --import tsx scripts/bench-models.ts [--threads 1] [--runs 3]
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceEngine } from '../gpu-runner/src/engine.js';
import { pullModel } from '../gpu-runner/src/model-store.js';
import { startPlatform } from '../devstack/platform.js';
import { startEphemeralServices } from '../devstack/services.js';
import { homedir } from 'node:os';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, runs: { type: 'string', default: '3' } } });
const THREADS = Number(values.threads);
const RUNS = Number(values.runs);
const MODEL = 'smollm2-135m-instruct';
// A raw completion prompt that SmolLM2 continues for hundreds of tokens, greedily the same every time.
const PROMPT = 'Chapter 1\n\nThe history of the city begins in the year 1200, when';
const modelsDir = join(process.env.TRD_CACHE_DIR || join(homedir(), '.cache', 'trd'), 'models');
await pullModel(MODEL, { modelsDir });
const modelPath = join(modelsDir, `${MODEL}.gguf`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`bench-models: ${MODEL}, ${RUNS} run(s) per figure, runner threads ${THREADS}`);
const bare: Record<number, { tokens: number; tokS: number }> = {};
for (const threads of [1, 2]) {
  const engine = await InferenceEngine.load({ modelPath, sequences: 1, threads, contextSize: 2048 });
  for (const tokens of [128, 512]) {
    const rates: number[] = [];
    let count = 0;
    for (let i = 0; i < RUNS; i++) {
      const g = await engine.generate({ prompt: PROMPT, maxTokens: tokens, temperature: 0 });
      count = g.completionTokens;
      rates.push((g.completionTokens * 1000) / (g.timeToFirstTokenMs + g.generationMs));
    }
    console.log(`  bare node-llama-cpp, ${threads} thread(s), ${tokens} tokens: ${median(rates).toFixed(1)} tok/s (${count} tokens)`);
    if (threads === THREADS) bare[tokens] = { tokens: count, tokS: median(rates) };
  }
  await engine.dispose();
}

Runtime.install({ logger: new DefaultLogger('ERROR') });
const services = await startEphemeralServices({ namespaces: ['bench-models'] });
const platform = await startPlatform(services, { namespace: 'bench-models', jobLimits: { heartbeatTimeoutMs: 20_000, deadlineMs: 300_000 } });
try {
  await platform.startRunner({ models: [MODEL], modelsDir, load: 'on-demand', extraArgs: ['--threads', String(THREADS)], readyTimeoutMs: 120_000 });
  const job = async (tokens: number) => {
    const started = performance.now();
    const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=120`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: tokens, temperature: 0 }),
    });
    const wallMs = performance.now() - started;
    const j: any = await res.json();
    if (j.status !== 'succeeded') throw new Error(`job ${j.id} ended ${j.status}: ${JSON.stringify(j.error)}`);
    return { wallMs, tokens: j.usage.completion_tokens as number, t: j.timings };
  };
  const cold = await job(16);
  const warm = await job(16);
  console.log(`  time to first token through the stack: cold ${cold.t.time_to_first_token_ms + cold.t.model_load_ms} ms (load ${cold.t.model_load_ms} ms, unbilled), warm ${warm.t.time_to_first_token_ms} ms (runner); client wall cold ${cold.wallMs.toFixed(0)} ms, warm ${warm.wallMs.toFixed(0)} ms`);
  for (const tokens of [128, 512]) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await job(tokens));
    const tokS = median(runs.map((r) => (r.tokens * 1000) / r.wallMs));
    const overhead = median(runs.map((r) => (r.wallMs - r.t.time_to_first_token_ms - r.t.generation_ms) / r.wallMs));
    console.log(
      `  through gateway + Temporal + runner endpoint + runner, ${tokens} tokens: ${tokS.toFixed(1)} tok/s (${runs[0].tokens} tokens) = ${((tokS / bare[tokens].tokS) * 100).toFixed(1)}% of bare; per-job overhead ${(overhead * 100).toFixed(1)}% of the job`,
    );
  }
} finally {
  await platform.stop();
  await services.stop();
}
