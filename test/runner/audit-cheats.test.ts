/**
 * Cheating runners are caught. Each cheat's result passes the platform's
 * structural check (inferenceResultProblem), so only an audit can catch it;
 * prefill verification and re-execution both do, for greedy and sampled jobs,
 * text and chat, at the threshold under which the honest runner passes.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { inferenceResultProblem, type InferenceResult, type InferenceTask, type VerifyReport, type VerifyTask } from '@trd/protocol';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunnerActivities } from '../../gpu-runner/src/activities.js';
import { CHEATS, CheatingRunner, type Cheat } from '../../gpu-runner/testing/cheats.js';
import { InferenceEngine, type Generation } from '../../gpu-runner/src/engine.js';
import { faultyGeneration, parseRunnerFaults } from '../../gpu-runner/testing/faults.js';
import { JobSlots } from '../../gpu-runner/src/job-slots.js';
import { verifyByPrefill } from '../../gpu-runner/src/prefill-verify.js';
import { verifyByReexecution } from '../../gpu-runner/src/reexecute-verify.js';
import { ServedModel } from '../../gpu-runner/src/served-model.js';
import { writeTinyModel } from '../../gpu-runner/src/tiny-model.js';
import { MIN_TOKEN_PROBABILITY, type AuditJob } from './audit-jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'audit-cheats-'));
const modelPath = join(dir, 'tiny.gguf');
let sha256: string;
let engine: InferenceEngine;
const cheaters = new Map<Cheat, CheatingRunner>();

beforeAll(async () => {
  await writeTinyModel(modelPath, 42);
  sha256 = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  engine = await InferenceEngine.load({ modelPath, sequences: 1, threads: 1 });
  for (const cheat of CHEATS) cheaters.set(cheat, new CheatingRunner(cheat));
});

afterAll(async () => {
  for (const cheater of cheaters.values()) await cheater.dispose();
  await engine?.dispose();
});

const chat = (content: string) => [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content }];

/**
 * Greedy and sampled, text and chat; the sampled ones seeded, as re-execution
 * needs. One gap, measured and kept in sight: the tiny model is nearly a
 * bigram model with flat distributions, and from temperature ~0.6 it finds
 * " the the the" plausible, so padding a short sampled output with it can pass
 * prefill verification (its log-likelihood z is negative, but within what
 * honest outputs reach); re-execution catches it. scripts/bench-audit.ts
 * measures each cheat's catch rate by method and temperature.
 */
const PLAUSIBLE_PADDING_FROM = 0.6;
const JOBS: Array<[string, AuditJob]> = [
  ['greedy text', { prompt: 'The gpu network made a receipt', maxTokens: 32, temperature: 0 }],
  ['greedy chat', { prompt: JSON.stringify(chat('Tell me about water')), chat: chat('Tell me about water'), maxTokens: 24, temperature: 0 }],
  ['sampled text', { prompt: 'Credit for every job', maxTokens: 40, temperature: 0.5, seed: 5 }],
  ['sampled chat', { prompt: JSON.stringify(chat('Who are you?')), chat: chat('Who are you?'), maxTokens: 30, temperature: 0.6, topP: 0.9, seed: 9 }],
];

/** The result the platform would get, for its structural check. */
function resultOf(job: AuditJob, gen: Generation): InferenceResult {
  const now = new Date().toISOString();
  return { workerId: 'cheater', model: 'trd-tiny', modelSha256: sha256, text: gen.text, promptTokens: gen.promptTokens, completionTokens: gen.completionTokens, finishReason: gen.finishReason, startedAt: now, finishedAt: now, timings: { modelLoadMs: 0, timeToFirstTokenMs: 0, generationMs: 0 } };
}

function taskOf(job: AuditJob): InferenceTask {
  return { jobId: 'job-1', model: 'trd-tiny', prompt: job.prompt, promptFormat: job.chat ? 'chat' : 'text', maxTokens: job.maxTokens, temperature: job.temperature, topP: job.topP, seed: job.seed, stop: job.stop };
}

describe.each(CHEATS)('a runner that cheats by %s', (cheat) => {
  beforeAll(async () => {
    // The replayer needs an earlier answer to replay: its first job, answered honestly.
    if (cheat === 'replay') await cheaters.get(cheat)!.generate(engine, { prompt: 'An earlier job', maxTokens: 24, temperature: 1, seed: 3 });
  });

  test.each(JOBS)('is caught on a %s job by prefill and by re-execution', async (_kind, job) => {
    const gen = await cheaters.get(cheat)!.generate(engine, job);
    expect(inferenceResultProblem(taskOf(job), resultOf(job, gen))).toBeNull();
    const honest = await engine.generate(job);
    expect(gen.text).not.toBe(honest.text);
    const claimed = { text: gen.text, completionTokens: gen.completionTokens, finishReason: gen.finishReason };

    const prefill = await verifyByPrefill(engine, { ...job, claimed, minTokenProbability: MIN_TOKEN_PROBABILITY });
    if (cheat === 'truncate-pad' && job.temperature >= PLAUSIBLE_PADDING_FROM && prefill.passed) {
      expect(prefill.likelihoodZ!).toBeLessThan(0);
    } else expect(prefill.passed).toBe(false);
    if (prefill.passed) {
      // The gap above: only re-execution settles it.
    } else if (prefill.mismatch) {
      const { textOffset, claimedToken, claimedProbability } = prefill.mismatch;
      // The evidence points at the claimed text where it departs, and at how unlikely it is there.
      expect(gen.text.startsWith(claimedToken, textOffset)).toBe(true);
      expect(claimedProbability!).toBeLessThan(job.temperature > 0 ? MIN_TOKEN_PROBABILITY : 1);
      if (cheat === 'truncate-pad') {
        const half = await engine.generate({ ...job, maxTokens: job.maxTokens / 2 });
        expect(textOffset).toBe(half.text.length);
      }
    } else {
      // No single token gives it away: the output as a whole does (its likelihood, its end, or its count).
      expect(prefill.reason).toMatch(/log-likelihood z|would not end there|tokens/);
    }

    const again = await verifyByReexecution(engine, { ...job, claimed });
    expect(again.passed).toBe(false);
    expect(again.mismatch!.textOffset).toBe(firstDifference(gen.text, honest.text));
  });
});

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('cheating by fault injection in the runner', () => {
  test('TRD_RUNNER_FAULTS names the cheat, and refuses an unknown one', () => {
    expect(parseRunnerFaults('cheat=replay')).toMatchObject({ cheat: 'replay' });
    expect(parseRunnerFaults('cheat=other-model,token-delay-ms=5', '/models/small.gguf')).toMatchObject({ cheat: 'other-model', cheatModelPath: '/models/small.gguf', tokenDelayMs: 5 });
    expect(() => parseRunnerFaults('cheat=lie')).toThrow(/names no cheat \(known: other-model, truncate-pad, replay\)/);
  });

  test("a cheating runner's result passes the platform's check, and an honest auditor's verifyInference fails it", async () => {
    // The test build's seam: generation wrapped with the faults, as gpu-runner/testing/main.ts installs it.
    const runner = (faults?: ReturnType<typeof parseRunnerFaults>) =>
      createRunnerActivities({
        models: new Map([['trd-tiny', new ServedModel({ key: 'trd-tiny', path: modelPath, sha256 }, { sequences: 1, threads: 1 })]]),
        workerId: faults ? 'cheater' : 'auditor',
        jobSlots: new JobSlots(1),
        sequenceWaitMs: 5_000,
        stallTimeoutMs: 5_000,
        generate: faults && faultyGeneration(faults, 'cheat=truncate-pad').generate,
      });
    const cheater = runner(parseRunnerFaults('cheat=truncate-pad'));
    const auditor = runner();
    const task = taskOf(JOBS[0]![1]);
    const result = (await new MockActivityEnvironment().run(cheater.runInference, task)) as InferenceResult;
    expect(inferenceResultProblem(task, result)).toBeNull();
    const audit: VerifyTask = {
      auditId: 'audit-9',
      jobId: task.jobId,
      auditedWorkerId: 'cheater',
      method: 'prefill',
      task,
      claimed: { text: result.text, completionTokens: result.completionTokens, finishReason: result.finishReason as 'length', modelSha256: result.modelSha256 },
      minTokenProbability: MIN_TOKEN_PROBABILITY,
    };
    const report = (await new MockActivityEnvironment().run(auditor.verifyInference, audit)) as VerifyReport;
    expect(report).toMatchObject({ auditId: 'audit-9', auditorId: 'auditor', passed: false, auditorModelSha256: sha256 });
    expect(report.reason).toMatch(/not the model's greedy choice/);
    expect(report.mismatch).toMatchObject({ tokenIndex: 16, claimedToken: ' the' });
  });
});
