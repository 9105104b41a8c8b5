/**
 * `trd-worker bench`: the standard benchmark. A fixed prompt on a fixed model,
 * several runs, prompt processing and generation tokens/s as median and
 * spread; filed with the gateway when logged in. What it files is a claim:
 * routing and earning tiers use the speed the platform measures from jobs.
 */
import { Command } from 'commander';
import { readCredentials } from '../credentials.js';
import { gatewayCall } from '../gateway-api.js';
import { defaultModelsDir } from '../paths.js';
import { defaultThreads } from '../threads.js';
import { positiveInt } from './options.js';

/** Long enough that prompt processing is measurable (~440 tokens on the tiny model), short enough for any context. */
const BENCH_PROMPT = Array.from({ length: 6 }, (_, i) => `Benchmark paragraph ${i + 1}: the quick brown fox jumps over the lazy dog near the river bank.`).join(' ');

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(xs: number[]): Spread {
  const sorted = [...xs].sort((a, b) => a - b);
  return { median: sorted[Math.floor((sorted.length - 1) / 2)], min: sorted[0], max: sorted.at(-1)! };
}

/** The standard benchmark; filed with the gateway when `report` and logged in. */
export async function runBench(o: { model: string; modelsDir: string; runs: number; tokens: number; threads: number; report: boolean }) {
  const started = performance.now();
  // Loaded here, not at the top: `--help` and the other light commands must not load llama.cpp.
  const [{ getLlama }, { InferenceEngine }, { hardwareOf }, { hardwareClassFor }, { resolveModel }] = await Promise.all([
    import('node-llama-cpp'),
    import('../engine.js'),
    import('../zero-config.js'),
    import('../hardware-classes.js'),
    import('../model-files.js'),
  ]);
  const model = await resolveModel(o.model, { modelsDir: o.modelsDir });
  const hwClass = hardwareClassFor(await hardwareOf(await getLlama()));
  const engine = await InferenceEngine.load({ modelPath: model.path, sequences: 1, threads: o.threads });
  const prompt: number[] = [];
  const generation: number[] = [];
  try {
    for (let i = 0; i <= o.runs; i++) {
      const g = await engine.generate({ prompt: BENCH_PROMPT, maxTokens: o.tokens, temperature: 0 });
      if (i === 0) continue; // warm-up: caches, first allocations
      prompt.push(Math.round((g.promptTokens * 1000) / Math.max(1, g.timeToFirstTokenMs)));
      generation.push(Math.round((g.completionTokens * 1000) / Math.max(1, g.generationMs)));
    }
  } finally {
    await engine.dispose();
  }
  const result = {
    model: model.key,
    model_sha256: model.sha256,
    hardware_class: hwClass.key,
    threads: o.threads,
    runs: o.runs,
    tokens_per_run: o.tokens,
    prompt_tokens_per_second: spread(prompt),
    generation_tokens_per_second: spread(generation),
    seconds: Math.round((performance.now() - started) / 100) / 10,
    filed: false,
  };
  const credentials = o.report ? await readCredentials() : null;
  if (credentials) {
    await gatewayCall(credentials.gateway_url, '/v1/runners/bench', credentials.token, {
      method: 'POST',
      body: { model: result.model, hardware_class: result.hardware_class, runs: result.runs, prompt_tokens_per_second: result.prompt_tokens_per_second, generation_tokens_per_second: result.generation_tokens_per_second },
    });
    result.filed = true;
  }
  return { result, credentials, hwClass };
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('run the standard benchmark (fixed prompt and model, several runs) and file the result with the gateway when logged in')
    .option('-m, --model <key|path>', 'model to run (the default works offline)', 'trd-tiny')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .option('--runs <n>', 'runs, after one warm-up', positiveInt('--runs', 50), 5)
    .option('--tokens <n>', 'tokens generated per run', positiveInt('--tokens', 4096), 128)
    .option('--threads <n>', 'CPU threads for llama.cpp', positiveInt('--threads', 1024), defaultThreads())
    .option('--no-report', 'do not file the result with the gateway')
    .option('--json', 'one JSON object, for scripts')
    .action(async (o) => {
      const { result, credentials, hwClass } = await runBench(o);
      if (o.json) {
        console.log(JSON.stringify(result));
        return;
      }
      const fmt = (s: Spread) => `${s.median} tok/s median (${s.min}–${s.max})`;
      console.log(`model            ${result.model} (${o.threads} thread(s), ${o.runs} runs of ${o.tokens} tokens)`);
      console.log(`prompt           ${fmt(result.prompt_tokens_per_second)}`);
      console.log(`generation       ${fmt(result.generation_tokens_per_second)}`);
      console.log(`class            ${hwClass.name}`);
      console.log(`took             ${result.seconds} s; ${result.filed ? 'filed with the gateway' : credentials === null && o.report ? 'not filed (not logged in)' : 'not filed'}`);
    });
}
