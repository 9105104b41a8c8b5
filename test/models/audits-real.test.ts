/**
 * Audits on the real distributions (SmolLM2 135M Instruct claimed, Gemma 3
 * 270M the other model a cheater serves instead): one cell of each cheat, and
 * honest jobs of every kind pass. The audit method is the one
 * TRD_AUDIT_METHOD=auto picks (re-execution for a seeded sampled job, prefill
 * otherwise). The whole matrix (three temperatures, seeded and unseeded, 200+
 * honest jobs) is too slow for CI: scripts/bench-audit-real.ts prints it.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { RECOMMENDED_MIN_TOKEN_PROBABILITY, type ChatMessage } from '@trd/protocol';
import { join } from 'node:path';
import { auditMethodFor } from '../../audits/settings.js';
import { InferenceEngine, type GenerateRequest, type Generation } from '../../gpu-runner/src/engine.js';
import { verifyByPrefill, type CheckOutcome } from '../../gpu-runner/src/prefill-verify.js';
import { verifyByReexecution } from '../../gpu-runner/src/reexecute-verify.js';
import { CheatingRunner, type Cheat } from '../../gpu-runner/testing/cheats.js';
import { GEMMA, SMOLLM2, ensureRealModels } from './real-models.js';

type Job = Omit<GenerateRequest, 'signal' | 'onToken' | 'onText'>;
let engine: InferenceEngine;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = await ensureRealModels([SMOLLM2, GEMMA]);
  engine = await InferenceEngine.load({ modelPath: join(modelsDir, `${SMOLLM2}.gguf`), sequences: 1, threads: 1, contextSize: 2048 });
}, 180_000);

afterAll(async () => {
  await engine?.dispose();
});

const chatJob = (content: string, maxTokens: number, temperature: number, seed?: number): Job => {
  const chat: ChatMessage[] = [{ role: 'user', content }];
  return { prompt: JSON.stringify(chat), chat, maxTokens, temperature, seed };
};
const claimOf = (g: Generation) => ({ text: g.text, completionTokens: g.completionTokens, finishReason: g.finishReason });

/** The audit TRD_AUDIT_METHOD=auto runs on a job; an unseeded job's seed is the runner's and never reaches the audit. */
function audit(job: Job, g: Generation): Promise<CheckOutcome> {
  const claimed = claimOf(g);
  return auditMethodFor('auto', job) === 'reexecute' ? verifyByReexecution(engine, { ...job, claimed }) : verifyByPrefill(engine, { ...job, claimed, minTokenProbability: RECOMMENDED_MIN_TOKEN_PROBABILITY });
}

describe('honest jobs on SmolLM2 pass their audit', () => {
  const honest: Array<[string, Job, number | undefined]> = [
    ['greedy, ends at end of turn (prefill)', chatJob('What is the capital of France?', 32, 0), undefined],
    ['temperature 0.7, seeded (re-execution)', chatJob('Write a story about a river.', 32, 0.7, 11), undefined],
    ['temperature 1.0, unseeded (prefill)', chatJob('Write a story about the moon.', 32, 1.0), 13],
    // Token 22 is a near-tie (" and" 0.206, "." 0.202 in the batched prefill) where batched and one-token
    // rounding disagree on SmolLM2: the greedy margin must let it through to one-token confirmation.
    ['greedy, a near-tie the batched prefill rounds the other way, 256 tokens (prefill)', { prompt: 'Chapter 2\n\nThe history of the city begins in the year 1200, when', maxTokens: 256, temperature: 0 }, undefined],
  ];
  test.each(honest)('%s', async (_, job, runnerSeed) => {
    const g = await engine.generate({ ...job, seed: job.seed ?? runnerSeed });
    const outcome = await audit(job, g);
    expect(outcome.reason).toBeNull();
    expect(outcome.passed).toBe(true);
  });
});

describe('each cheat is caught on the real distribution', () => {
  const cells: Array<[Cheat, string, Job, number | undefined]> = [
    ['other-model', 'Gemma 3 270M answering as SmolLM2, greedy (prefill)', chatJob('Write a story about a garden.', 32, 0), undefined],
    ['truncate-pad', 'half the tokens, then filler, temperature 0.7 unseeded (prefill)', chatJob('Write a story about a train.', 32, 0.7), 21],
    // Sampled and unseeded, a replayed story often passes prefill: every token of one story is plausible at
    // temperature 0.7-1.0 for another story's prompt (scripts/bench-audit-real.ts prints the rates).
    ['replay', "an earlier job's answer, greedy (prefill)", chatJob('Write a story about a violin.', 32, 0), undefined],
  ];
  test.each(cells)('%s: %s', async (cheat, _, job, runnerSeed) => {
    const cheater = new CheatingRunner(cheat, { otherModelPath: join(modelsDir, `${GEMMA}.gguf`), threads: 1, contextSize: 2048 });
    try {
      // The replayer answers one job honestly first, to have something to replay.
      if (cheat === 'replay') await cheater.generate(engine, chatJob('Write a story about a red kite.', 32, 0));
      const g = await cheater.generate(engine, { ...job, seed: runnerSeed });
      if (cheat === 'truncate-pad') expect(g.text.endsWith(' the'.repeat(16))).toBe(true); // it did cheat
      const outcome = await audit(job, g);
      expect(outcome.passed).toBe(false);
      expect(outcome.reason).toEqual(expect.any(String));
    } finally {
      await cheater.dispose();
    }
  }, 240_000);
});
