/**
 * `node --import tsx scripts/bench-audit.ts`: what an audit costs against the
 * job it audits, and what it catches, on the tiny model (real llama.cpp, one
 * thread, this process). Same jobs and seeds on every run, so runs compare.
 *   1. for N jobs at each of a few lengths (half greedy, half sampled; no stop
 *      strings, so each runs to its length): generation time, prefill
 *      verification time (and its forward pass alone, the floor), re-execution
 *      time, p50 each, and the per-job ratio prefill/generation (p50, p90);
 *   2. the threshold: over honest sampled jobs, how often an honest token falls
 *      below a few thresholds (expected count per 1,000 tokens, from the
 *      probability mass under each), and the honest log-likelihood z range;
 *   3. each cheat's catch rate, by method and temperature, over N jobs each.
 * Options: --jobs N (default 20), --json (one JSON line, for comparing runs).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RECOMMENDED_MIN_TOKEN_PROBABILITY } from '@trd/protocol';
import { CHEATS, CheatingRunner } from '../gpu-runner/testing/cheats.js';
import { InferenceEngine, samplingOf, type GenerateRequest } from '../gpu-runner/src/engine.js';
import { verifyByPrefill } from '../gpu-runner/src/prefill-verify.js';
import { verifyByReexecution } from '../gpu-runner/src/reexecute-verify.js';
import { applyChain, PLAIN_DISTRIBUTION } from '../gpu-runner/src/sampler-scores.js';
import { writeTinyModel } from '../gpu-runner/src/tiny-model.js';
import type { Token } from 'node-llama-cpp';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '20' }, json: { type: 'boolean', default: false } } });
const JOBS = Number(values.jobs);
if (!Number.isInteger(JOBS) || JOBS < 2) {
  console.error('bench-audit: --jobs must be an integer of at least 2');
  process.exit(2);
}
const LENGTHS = [16, 64, 256];
const CHEAT_TEMPERATURES = [0, 0.5, 0.8, 1.2];
const THRESHOLDS = [1e-3, 1e-4, 1e-5];
const MIN_P = RECOMMENDED_MIN_TOKEN_PROBABILITY;
const log = (line: string) => !values.json && console.log(line);

type Job = Omit<GenerateRequest, 'signal' | 'onToken' | 'onText'>;
const jobOf = (n: number, maxTokens: number, temperature: number): Job => ({
  prompt: `Benchmark job ${n}: tell me about the network`,
  maxTokens,
  temperature,
  seed: temperature > 0 ? 7000 + n : undefined,
});
const claimOf = (g: { text: string; completionTokens: number; finishReason: 'length' | 'stop' }) => ({ text: g.text, completionTokens: g.completionTokens, finishReason: g.finishReason });

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

const modelPath = join(mkdtempSync(join(tmpdir(), 'bench-audit-')), 'tiny.gguf');
await writeTinyModel(modelPath, 42);
const engine = await InferenceEngine.load({ modelPath, sequences: 1, threads: 1 });
// Warm-up: the first generation and the first prefill pay one-time costs (vocabulary table, caches).
{
  const warm = jobOf(-1, 32, 0.8);
  await verifyByPrefill(engine, { ...warm, claimed: claimOf(await engine.generate(warm)), minTokenProbability: MIN_P });
}

// 1. Cost.
const cost: Array<Record<string, number>> = [];
log(`audit cost on the tiny model, ${JOBS} jobs per length (half greedy, half sampled), 1 thread:`);
log('  tokens  generate p50  prefill p50  (forward pass alone)  re-execute p50  prefill/generate p50  p90');
let allPassed = true;
for (const length of LENGTHS) {
  const gen: number[] = [];
  const pre: number[] = [];
  const re: number[] = [];
  const ratio: number[] = [];
  const bare: number[] = [];
  for (let n = 0; n < JOBS; n++) {
    const job = jobOf(n, length, n % 2 === 0 ? 0 : 0.8);
    const [g, gMs] = await timed(() => engine.generate(job));
    const [p, pMs] = await timed(() => verifyByPrefill(engine, { ...job, claimed: claimOf(g), minTokenProbability: MIN_P }));
    const [r, rMs] = await timed(() => verifyByReexecution(engine, { ...job, claimed: claimOf(g) }));
    allPassed &&= p.passed && r.passed;
    // The floor: the same forward pass with no probabilities read back (what llama.cpp alone costs).
    const sequence = await engine.newSequence();
    const sameLength = engine.llamaModel.tokenize(g.text).slice(0, g.completionTokens);
    const [, bMs] = await timed(() => sequence.controlledEvaluate([...engine.promptTokens(job), ...sameLength]));
    sequence.dispose();
    bare.push(bMs);
    gen.push(gMs);
    pre.push(pMs);
    re.push(rMs);
    ratio.push(pMs / gMs);
  }
  const row = { tokens: length, generateMs: quantile(gen, 0.5), prefillMs: quantile(pre, 0.5), forwardPassMs: quantile(bare, 0.5), reexecuteMs: quantile(re, 0.5), ratioP50: quantile(ratio, 0.5), ratioP90: quantile(ratio, 0.9) };
  cost.push(row);
  log(`  ${String(length).padStart(6)}  ${row.generateMs.toFixed(1).padStart(9)} ms  ${row.prefillMs.toFixed(1).padStart(8)} ms  ${row.forwardPassMs.toFixed(1).padStart(17)} ms  ${row.reexecuteMs.toFixed(1).padStart(11)} ms  ${row.ratioP50.toFixed(2).padStart(20)}  ${row.ratioP90.toFixed(2)}`);
}
log(`  every honest job passed both checks: ${allPassed}`);

// 2. The threshold, from the honest sampled distributions.
const below = THRESHOLDS.map(() => 0);
let positions = 0;
const honestZ: number[] = [];
for (let n = 0; n < JOBS * 5; n++) {
  const job = jobOf(100 + n, 64, [0.3, 0.5, 0.8, 1.0, 1.5][n % 5]!);
  const g = await engine.generate(job);
  const check = await verifyByPrefill(engine, { ...job, claimed: claimOf(g), minTokenProbability: MIN_P });
  if (check.likelihoodZ != null) honestZ.push(check.likelihoodZ);
  allPassed &&= check.passed;
  // The mass under each threshold at every position of the honest path: the expected number of honest tokens below it.
  const sampling = samplingOf(job);
  const prompt = engine.promptTokens(job);
  // The generation's own tokens (the text re-tokenizes differently), drawn again with the job's seed.
  const tokens: Token[] = [];
  const generator = await engine.newSequence();
  for await (const t of generator.evaluate(prompt, sampling)) {
    if (engine.llamaModel.isEogToken(t) || tokens.push(t) >= job.maxTokens) break;
  }
  generator.dispose();
  const sequence = await engine.newSequence();
  try {
    const results = await sequence.controlledEvaluate([...prompt, ...tokens].map((t, i) => (i >= prompt.length - 1 ? [t, { generateNext: { probabilities: true, options: PLAIN_DISTRIBUTION } }] : t)));
    for (let i = prompt.length - 1; i < prompt.length + tokens.length - 1; i++) {
      const kept = applyChain(results[i]!.next.probabilities!, sampling);
      positions++;
      for (const [k, tau] of THRESHOLDS.entries()) for (const p of kept.values()) if (p < tau) below[k]! += p;
    }
  } finally {
    sequence.dispose();
  }
}
const perThousand = THRESHOLDS.map((tau, k) => ({ threshold: tau, honestBelowPer1000Tokens: (below[k]! / positions) * 1000 }));
log(`\nthreshold: over ${positions} honest sampled positions (temperatures 0.3-1.5), expected honest tokens below it per 1,000:`);
for (const t of perThousand) log(`  p < ${t.threshold.toExponential(0)}: ${t.honestBelowPer1000Tokens.toExponential(2)}`);
log(`honest log-likelihood z over ${honestZ.length} sampled jobs: min ${Math.min(...honestZ).toFixed(2)}, max ${Math.max(...honestZ).toFixed(2)} (limit ±6)`);

// 3. Catch rates.
const catches: Array<{ cheat: string; temperature: number; prefill: number; reexecute: number }> = [];
log(`\ncheats caught, ${JOBS} jobs each (64 tokens; threshold ${MIN_P}):`);
log('  cheat          temperature  prefill  re-execution');
for (const cheat of CHEATS) {
  for (const temperature of CHEAT_TEMPERATURES) {
    const cheater = new CheatingRunner(cheat);
    // The replayer answers its first job honestly, to have something to replay.
    if (cheat === 'replay') await cheater.generate(engine, jobOf(-2, 64, temperature));
    let prefillCaught = 0;
    let reexecuteCaught = 0;
    for (let n = 0; n < JOBS; n++) {
      const job = jobOf(500 + n, 64, temperature);
      const claimed = claimOf(await cheater.generate(engine, job));
      if (!(await verifyByPrefill(engine, { ...job, claimed, minTokenProbability: MIN_P })).passed) prefillCaught++;
      if (!(await verifyByReexecution(engine, { ...job, claimed })).passed) reexecuteCaught++;
    }
    await cheater.dispose();
    const row = { cheat, temperature, prefill: prefillCaught / JOBS, reexecute: reexecuteCaught / JOBS };
    catches.push(row);
    log(`  ${cheat.padEnd(13)}  ${String(temperature).padStart(11)}  ${(row.prefill * 100).toFixed(0).padStart(6)}%  ${(row.reexecute * 100).toFixed(0).padStart(11)}%`);
  }
}

if (values.json) {
  console.log(JSON.stringify({ jobs: JOBS, cost, threshold: perThousand, honestZ: { min: Math.min(...honestZ), max: Math.max(...honestZ) }, catches, honestAllPassed: allPassed }));
}
await engine.dispose();
