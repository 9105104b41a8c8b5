/**
 * An honest runner is never flagged: 200 jobs of a varied mix, each generated
 * on real llama.cpp and audited by prefill at the threshold the cheat tests
 * use; a share of them by re-execution too. Unit level (engine, no platform),
 * so it runs in seconds.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceEngine } from '../../gpu-runner/src/engine.js';
import { verifyByPrefill } from '../../gpu-runner/src/prefill-verify.js';
import { verifyByReexecution } from '../../gpu-runner/src/reexecute-verify.js';
import { writeTinyModel } from '../../gpu-runner/src/tiny-model.js';
import { auditJobs, MIN_TOKEN_PROBABILITY } from './audit-jobs.js';

let engine: InferenceEngine;

beforeAll(async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'audit-honest-')), 'tiny.gguf');
  await writeTinyModel(path, 42);
  engine = await InferenceEngine.load({ modelPath: path, sequences: 1, threads: 1 });
});

afterAll(async () => {
  await engine?.dispose();
});

test('an honest runner passes prefill verification on 200 mixed jobs, and re-execution on every fourth', async () => {
  const failures: string[] = [];
  let lowest = Infinity;
  const seen = { greedy: 0, sampled: 0, chat: 0, stoppedByString: 0, tokens: 0 };
  for (const [i, job] of auditJobs(200).entries()) {
    const gen = await engine.generate(job);
    const claimed = { text: gen.text, completionTokens: gen.completionTokens, finishReason: gen.finishReason };
    const prefill = await verifyByPrefill(engine, { ...job, claimed, minTokenProbability: MIN_TOKEN_PROBABILITY });
    if (!prefill.passed) failures.push(`job ${i} (prefill, T=${job.temperature}, ${gen.completionTokens} tokens, ${gen.finishReason}): ${prefill.reason}`);
    // A greedy job's token path is the generation's own; a sampled job's split of the text may be shorter.
    else if (job.temperature === 0 ? prefill.tokensChecked !== gen.completionTokens : prefill.tokensChecked > gen.completionTokens) {
      failures.push(`job ${i}: checked ${prefill.tokensChecked} tokens of ${gen.completionTokens}`);
    }
    lowest = Math.min(lowest, prefill.lowestProbability ?? Infinity);
    if (i % 4 === 0) {
      const again = await verifyByReexecution(engine, { ...job, claimed });
      if (!again.passed) failures.push(`job ${i} (re-execution): ${again.reason}`);
    }
    seen[job.temperature > 0 ? 'sampled' : 'greedy']++;
    if (job.chat) seen.chat++;
    if (gen.finishReason === 'stop' && job.stop) seen.stoppedByString++;
    seen.tokens += gen.completionTokens;
  }
  expect(failures).toEqual([]);
  // The mix covers what it claims to.
  expect(seen.greedy).toBeGreaterThanOrEqual(40);
  expect(seen.sampled).toBeGreaterThanOrEqual(100);
  expect(seen.chat).toBeGreaterThanOrEqual(60);
  expect(seen.stoppedByString).toBeGreaterThanOrEqual(30);
  // Honest sampled tokens clear the threshold on their own merit, not by a hair.
  expect(lowest).toBeGreaterThan(MIN_TOKEN_PROBABILITY);
  console.log(`honest audit: ${seen.tokens} tokens in 200 jobs; least likely sampled token p=${lowest.toExponential(2)} (threshold ${MIN_TOKEN_PROBABILITY})`);
});
