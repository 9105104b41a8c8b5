/**
 * Audits on the real distributions: SmolLM2 135M Instruct is the claimed
 * model (and the auditor's), Gemma 3 270M the "other model" a cheater serves
 * instead. Real llama.cpp in this process, the runner's own audit code
 * (gpu-runner/src/prefill-verify.ts, reexecute-verify.ts), the cheats of
 * gpu-runner/testing/cheats.ts. Same jobs and seeds on every run.
 *
 *   --part cost: prefill verification time / generation time, and
 *     re-execution time / generation time, per job at --cost-tokens (default
 *     64,256,512), greedy and seeded-sampled jobs alike; beside them the
 *     floor any prefill has on this machine: prompt + output in one batched
 *     forward pass that scores nothing (llama.cpp's own prompt processing);
 *   --part matrix: each cheat at temperature 0, 0.7 and 1.0, seeded and
 *     unseeded (an unseeded job's seed stays the runner's, so only prefill
 *     can check it): catch rate per cell by prefill, by re-execution (seeded
 *     only) and by the method TRD_AUDIT_METHOD=auto picks; then the false
 *     positives over --honest honest jobs spread over the same cells.
 *   --part cheats, --part honest: one half of the matrix each (two processes
 *     finish sooner on a shared machine);
 *   --part all (default): cost and matrix.
 * Options: --jobs N cheat jobs per cell (default 10), --honest N (default 204;
 * --honest-from K starts at honest job K, to split them over processes),
 * --tokens N per matrix job (default 32), --threads (default 1).
 *
 *   node --import tsx scripts/bench-audit-real.ts --part matrix
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { RECOMMENDED_MIN_TOKEN_PROBABILITY, type ChatMessage } from '@trd/protocol';
import { auditMethodFor } from '../audits/settings.js';
import { InferenceEngine, type GenerateRequest, type Generation } from '../gpu-runner/src/engine.js';
import { verifyByPrefill, type CheckOutcome } from '../gpu-runner/src/prefill-verify.js';
import { verifyByReexecution } from '../gpu-runner/src/reexecute-verify.js';
import { CHEATS, CheatingRunner, type Cheat } from '../gpu-runner/testing/cheats.js';
import { GEMMA, SMOLLM2, ensureRealModels } from '../test/models/real-models.js';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    jobs: { type: 'string', default: '10' },
    honest: { type: 'string', default: '204' },
    'honest-from': { type: 'string', default: '0' },
    tokens: { type: 'string', default: '32' },
    'cost-tokens': { type: 'string', default: '64,256,512' },
    threads: { type: 'string', default: '1' },
  },
});
const int = (name: string, raw: string, min: number) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`bench-audit-real: --${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
};
const PART = values.part!;
if (!['all', 'cost', 'matrix', 'cheats', 'honest'].includes(PART)) {
  console.error(`bench-audit-real: --part is all, cost, matrix, or one half of the matrix (cheats, honest), got ${JSON.stringify(PART)}`);
  process.exit(2);
}
const JOBS = int('jobs', values.jobs!, 1);
const HONEST = int('honest', values.honest!, 1);
const HONEST_FROM = int('honest-from', values['honest-from']!, 0);
const TOKENS = int('tokens', values.tokens!, 8);
const THREADS = int('threads', values.threads!, 1);
const COST_TOKENS = values['cost-tokens']!.split(',').map((t) => int('cost-tokens', t, 8));
const MIN_P = RECOMMENDED_MIN_TOKEN_PROBABILITY;
const TEMPERATURES = [0, 0.7, 1.0];

const TOPICS = ['a lighthouse', 'the moon', 'a river', 'a small dog', 'a baker', 'an old map', 'the winter', 'a robot', 'a garden', 'a train', 'a violin', 'the desert', 'a forest fire', 'a chess game', 'a storm at sea', 'a library', 'a mountain village', 'a lost key', 'a red kite', 'the first snow'];
const QUESTIONS = ['What is the capital of France?', 'How many legs does a spider have?', 'What colour is the sky on a clear day?', 'Name a fruit that is yellow.', 'What do bees make?', 'Which planet is closest to the sun?'];

/** Job n of the benchmark: mostly stories (they run to max_tokens), every fourth a short question (it ends at end of turn). */
type Job = Omit<GenerateRequest, 'signal' | 'onToken' | 'onText'>;
function jobOf(n: number, maxTokens: number, temperature: number, seeded: boolean): { job: Job; runnerSeed: number | undefined } {
  const content = n % 4 === 3 ? QUESTIONS[n % QUESTIONS.length]! : `Write a story about ${TOPICS[n % TOPICS.length]!}${n >= TOPICS.length ? `, part ${Math.floor(n / TOPICS.length) + 1}` : ''}.`;
  const chat: ChatMessage[] = [{ role: 'user', content }];
  const seed = temperature > 0 ? 10_000 + n : undefined;
  // An unseeded job still samples with some seed: the runner's own, which the audit never learns.
  return { job: { prompt: JSON.stringify(chat), chat, maxTokens, temperature, seed: seeded ? seed : undefined }, runnerSeed: seed };
}
const claimOf = (g: Generation) => ({ text: g.text, completionTokens: g.completionTokens, finishReason: g.finishReason });
const pct = (k: number, n: number) => (n === 0 ? '   n/a' : `${((k * 100) / n).toFixed(0).padStart(5)}%`);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
/** The least a prefill can cost here: prompt and output through the model in one batched call, no token scored. */
async function batchedPass(job: Job, g: Generation): Promise<number> {
  const tokens = [...engine.promptTokens(job), ...engine.llamaModel.tokenize(g.text)];
  const sequence = await engine.newSequence();
  try {
    const [, ms] = await timed(() => sequence.controlledEvaluate([...tokens.slice(0, -1), [tokens.at(-1)!, { generateNext: { token: true } }]]));
    return ms;
  } finally {
    sequence.dispose();
  }
}
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

const modelsDir = await ensureRealModels([SMOLLM2, GEMMA]);
const engine = await InferenceEngine.load({ modelPath: join(modelsDir, `${SMOLLM2}.gguf`), sequences: 1, threads: THREADS, contextSize: 2048 });
const started = performance.now();
console.log(`bench-audit-real: ${SMOLLM2} (the claimed model and the auditor's), ${GEMMA} as the other model; ${THREADS} thread(s); min token probability ${MIN_P}`);

if (PART === 'all' || PART === 'cost') {
  // Warm-up: the first generation and prefill pay one-time costs.
  {
    const { job } = jobOf(0, 16, 0.7, true);
    await verifyByPrefill(engine, { ...job, claimed: claimOf(await engine.generate(job)), minTokenProbability: MIN_P });
  }
  console.log(`\ncost per job, one greedy and one seeded sampled (temperature 0.7) job per length, a raw prompt the model continues to max_tokens:`);
  console.log('  tokens  generate   prefill    re-execute   prefill/generate  re-execute/generate  batched pass/generate');
  for (const [i, tokens] of COST_TOKENS.entries()) {
    const rows: Array<{ g: number; p: number; r: number; b: number }> = [];
    for (const temperature of [0, 0.7]) {
      const job: Job = { prompt: `Chapter ${i + 1}\n\nThe history of the city begins in the year 1200, when`, maxTokens: tokens, temperature, seed: temperature > 0 ? 99 + i : undefined };
      const [g, gMs] = await timed(() => engine.generate(job));
      if (g.completionTokens !== tokens) console.log(`  (the ${temperature > 0 ? 'sampled' : 'greedy'} job ended after ${g.completionTokens} of ${tokens} tokens)`);
      const [p, pMs] = await timed(() => verifyByPrefill(engine, { ...job, claimed: claimOf(g), minTokenProbability: MIN_P }));
      const [r, rMs] = await timed(() => verifyByReexecution(engine, { ...job, claimed: claimOf(g) }));
      if (!p.passed || !r.passed) console.log(`  HONEST JOB FAILED: prefill ${p.reason ?? 'passed'}; re-execution ${r.reason ?? 'passed'}`);
      rows.push({ g: gMs, p: pMs, r: rMs, b: await batchedPass(job, g) });
    }
    for (const [k, row] of rows.entries()) {
      console.log(`  ${String(tokens).padStart(6)}  ${(row.g / 1000).toFixed(2).padStart(7)} s  ${(row.p / 1000).toFixed(2).padStart(7)} s  ${(row.r / 1000).toFixed(2).padStart(9)} s  ${(row.p / row.g).toFixed(3).padStart(16)}  ${(row.r / row.g).toFixed(3).padStart(19)}  ${(row.b / row.g).toFixed(3).padStart(21)}   (${k === 0 ? 'greedy' : 'sampled'})`);
    }
  }
}

if (PART !== 'cost') {
  const cheats = PART !== 'honest';
  const honest = PART !== 'cheats';
  // The other-model cheater serves Gemma under SmolLM2's name (one cheater for every cell: it keeps Gemma loaded).
  const otherModel = new CheatingRunner('other-model', { otherModelPath: join(modelsDir, `${GEMMA}.gguf`), threads: THREADS, contextSize: 2048 });
  const cells = TEMPERATURES.flatMap((temperature) => [true, false].map((seeded) => ({ temperature, seeded })));
  const verify = async (job: Job, claimed: ReturnType<typeof claimOf>) => {
    const prefill = await verifyByPrefill(engine, { ...job, claimed, minTokenProbability: MIN_P });
    const reexecute = job.temperature === 0 || job.seed !== undefined ? await verifyByReexecution(engine, { ...job, claimed }) : null;
    const auto = auditMethodFor('auto', job) === 'prefill' ? prefill : reexecute!;
    return { prefill, reexecute, auto };
  };
  const notes: string[] = [];

  if (cheats) {
    console.log(`\ncheats caught, ${JOBS} jobs per cell (${TOKENS} tokens, chat; "cheated" = jobs whose claim the cheat changed):`);
    console.log('  cheat          temp  seed  cheated  prefill  re-execute  auto (method)');
    let n = 1000;
    for (const cheat of CHEATS) {
      for (const { temperature, seeded } of cells) {
        const cheater = cheat === 'other-model' ? otherModel : new CheatingRunner(cheat as Cheat);
        const counts = { cheated: 0, prefill: 0, reexecute: 0, reexecuteOf: 0, auto: 0 };
        // The replayer answers a first job honestly, to have something to replay.
        if (cheat === 'replay') await cheater.generate(engine, jobOf(n++, TOKENS, temperature, true).job);
        for (let j = 0; j < JOBS; j++) {
          const { job, runnerSeed } = jobOf(n++, TOKENS, temperature, seeded);
          const asRun = { ...job, seed: runnerSeed };
          const g = await cheater.generate(engine, asRun);
          const claimed = claimOf(g);
          const changed = cheat === 'truncate-pad' ? g.finishReason === 'length' && g.text.endsWith(' the'.repeat(TOKENS - Math.floor(TOKENS / 2))) : true;
          if (!changed) continue;
          counts.cheated++;
          const v = await verify(job, claimed);
          if (!v.prefill.passed) counts.prefill++;
          if (v.reexecute) {
            counts.reexecuteOf++;
            if (!v.reexecute.passed) counts.reexecute++;
          }
          if (!v.auto.passed) counts.auto++;
          else if (notes.length < 12) notes.push(`  not caught: ${cheat} t=${temperature} ${seeded ? 'seeded' : 'unseeded'} by ${auditMethodFor('auto', job)}: ${JSON.stringify(claimed.text.slice(0, 90))} (z ${v.prefill.likelihoodZ?.toFixed(2) ?? '-'}, lowest p ${v.prefill.lowestProbability?.toExponential(1) ?? '-'})`);
        }
        if (cheater !== otherModel) await cheater.dispose();
        const method = auditMethodFor('auto', { temperature, seed: seeded ? 1 : undefined });
        console.log(
          `  ${cheat.padEnd(13)}  ${temperature.toFixed(1)}  ${(seeded ? 'yes' : 'no').padEnd(4)}  ${String(counts.cheated).padStart(7)}  ${pct(counts.prefill, counts.cheated)}  ${pct(counts.reexecute, counts.reexecuteOf).padStart(10)}  ${pct(counts.auto, counts.cheated)} (${method})`,
        );
      }
    }
    for (const line of notes) console.log(line);
  }

  if (honest) {
    console.log(`\nhonest jobs: ${HONEST} (${HONEST_FROM}..${HONEST_FROM + HONEST - 1}), spread over the same ${cells.length} cells (${TOKENS} tokens, chat):`);
    const fp = { prefill: 0, reexecute: 0, reexecuteOf: 0, auto: 0 };
    const zs: number[] = [];
    const lowest: number[] = [];
    let stops = 0;
    for (let j = HONEST_FROM; j < HONEST_FROM + HONEST; j++) {
      const { temperature, seeded } = cells[j % cells.length]!;
      const { job, runnerSeed } = jobOf(5000 + j, TOKENS, temperature, seeded);
      const g = await engine.generate({ ...job, seed: runnerSeed });
      if (g.finishReason === 'stop') stops++;
      const v = await verify(job, claimOf(g));
      if (v.prefill.likelihoodZ != null) zs.push(v.prefill.likelihoodZ);
      if (v.prefill.lowestProbability !== undefined && Number.isFinite(v.prefill.lowestProbability)) lowest.push(v.prefill.lowestProbability);
      const report = (method: string, o: CheckOutcome) => console.log(`  FALSE POSITIVE (${method}) t=${temperature} ${seeded ? 'seeded' : 'unseeded'} job ${5000 + j}: ${o.reason} | ${JSON.stringify(g.text.slice(0, 120))}`);
      if (!v.prefill.passed) {
        fp.prefill++;
        report('prefill', v.prefill);
      }
      if (v.reexecute) {
        fp.reexecuteOf++;
        if (!v.reexecute.passed) {
          fp.reexecute++;
          report('re-execution', v.reexecute);
        }
      }
      if (!v.auto.passed) fp.auto++;
    }
    console.log(`  false positives: prefill ${fp.prefill} of ${HONEST}, re-execution ${fp.reexecute} of ${fp.reexecuteOf}, auto ${fp.auto} of ${HONEST} (${stops} ended at end of turn, the rest at max_tokens)`);
    if (zs.length) console.log(`  honest log-likelihood z over ${zs.length} sampled jobs: min ${Math.min(...zs).toFixed(2)}, p50 ${quantile(zs, 0.5).toFixed(2)}, max ${Math.max(...zs).toFixed(2)} (limit ±6)`);
    if (lowest.length) console.log(`  least likely honest token per sampled job: min ${Math.min(...lowest).toExponential(2)}, p10 ${quantile(lowest, 0.1).toExponential(2)} (threshold ${MIN_P})`);
  }
  await otherModel.dispose();
}
console.log(`\ntook ${((performance.now() - started) / 1000).toFixed(0)} s`);
await engine.dispose();
