/**
 * The runner's verifyInference activity on real llama.cpp: it runs like a job
 * (job slot, sequence, heartbeats, cancellation), answers with evidence, and
 * refuses unusable audit tasks without doing any work.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { InferenceResult, InferenceTask, VerifyProgress, VerifyReport, VerifyTask } from '@trd/protocol';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunnerActivities } from '../../gpu-runner/src/activities.js';
import { JobSlots } from '../../gpu-runner/src/job-slots.js';
import { ServedModel } from '../../gpu-runner/src/served-model.js';
import { writeTinyModel } from '../../gpu-runner/src/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'verify-activity-'));
let served: ServedModel;
let activities: ReturnType<typeof createRunnerActivities>;
let sha256: string;

beforeAll(async () => {
  const path = join(dir, 'tiny.gguf');
  await writeTinyModel(path, 42);
  sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  served = new ServedModel({ key: 'trd-tiny', path, sha256 }, { sequences: 1, threads: 1 });
  activities = createRunnerActivities({
    models: new Map([['trd-tiny', served]]),
    workerId: 'auditor-1',
    jobSlots: new JobSlots(1),
    sequenceWaitMs: 5_000,
    stallTimeoutMs: 5_000,
  });
});

afterAll(async () => {
  await served?.dispose();
});

const job = (over: Partial<InferenceTask> = {}): InferenceTask => ({ jobId: 'job-1', model: 'trd-tiny', prompt: 'The network of water', maxTokens: 24, temperature: 0, ...over });

async function runJob(task: InferenceTask): Promise<InferenceResult> {
  return new MockActivityEnvironment().run(activities.runInference, task);
}

function verify(audit: VerifyTask, env = new MockActivityEnvironment()): Promise<VerifyReport> {
  return env.run(activities.verifyInference, audit) as Promise<VerifyReport>;
}

function auditOf(task: InferenceTask, r: InferenceResult, over: Partial<VerifyTask> = {}): VerifyTask {
  return {
    auditId: 'audit-1',
    jobId: task.jobId,
    auditedWorkerId: 'runner-0',
    method: 'prefill',
    task,
    claimed: { text: r.text, completionTokens: r.completionTokens, finishReason: r.finishReason as 'length' | 'stop', modelSha256: r.modelSha256 },
    minTokenProbability: 0.001,
    ...over,
  };
}

describe('verifyInference', () => {
  test("passes an honest runner's output by prefill and by re-execution, heartbeating as it goes", async () => {
    const task = job({ temperature: 0.8, seed: 11, maxTokens: 40 });
    const result = await runJob(task);
    for (const method of ['prefill', 'reexecute'] as const) {
      const env = new MockActivityEnvironment();
      const beats: VerifyProgress[] = [];
      env.on('heartbeat', (d: VerifyProgress) => beats.push(d));
      const report = await verify(auditOf(task, result, { method }), env);
      expect(report).toMatchObject({ auditId: 'audit-1', auditorId: 'auditor-1', method, passed: true, reason: null, mismatch: null, auditorModelSha256: sha256 });
      expect(report.tokensChecked).toBe(40);
      expect(report.verifyMs).toBeGreaterThanOrEqual(0);
      expect(beats.length).toBeGreaterThan(0);
      expect(beats[0]).toMatchObject({ workerId: 'auditor-1' });
    }
  });

  test('a claim on another model file fails with both hashes and costs no compute', async () => {
    const task = job();
    const result = await runJob(task);
    const report = await verify(auditOf(task, { ...result, modelSha256: 'ab'.repeat(32) }));
    expect(report).toMatchObject({ passed: false, tokensChecked: 0, auditorModelSha256: sha256 });
    expect(report.reason).toContain('ab'.repeat(32));
    expect(report.reason).toContain(sha256);
  });

  test('an edited output fails with the first differing token as evidence, by either method', async () => {
    const task = job({ maxTokens: 30 });
    const result = await runJob(task);
    const words = result.text.split(' ');
    const at = Math.floor(words.length / 2);
    words[at] = words[at] === 'water' ? 'compute' : 'water';
    const edited = { ...result, text: words.join(' ') };
    const offset = words.slice(0, at).join(' ').length;
    const prefill = await verify(auditOf(task, edited));
    expect(prefill.passed).toBe(false);
    expect(prefill.mismatch).toMatchObject({ textOffset: offset });
    expect(prefill.mismatch!.claimedToken).toBe(` ${words[at]}`);
    expect(prefill.mismatch!.expectedToken).toBe(result.text.slice(offset, offset + prefill.mismatch!.expectedToken.length));
    expect(prefill.reason).toMatch(/not the model's greedy choice/);
    const again = await verify(auditOf(task, edited, { method: 'reexecute' }));
    expect(again).toMatchObject({ passed: false, mismatch: { textOffset: offset + 1, claimedProbability: null } });
    expect(again.reason).toContain(`character ${offset + 1}`);
  });

  test('unusable audit tasks fail without retries, each with a clear reason', async () => {
    const task = job();
    const result = await runJob(task);
    const cases: Array<[Partial<VerifyTask>, RegExp]> = [
      [{ method: 'guess' as never }, /method "guess" is not prefill or reexecute/],
      [{ task: { ...task, model: 'other-model' } }, /serves trd-tiny, not other-model/],
      [{ task: { ...task, maxTokens: 0 } }, /positive max_tokens/],
      [{ minTokenProbability: 1.5 }, /minTokenProbability/],
      [{ claimed: { ...auditOf(task, result).claimed, completionTokens: -1 } }, /completionTokens/],
      [{ task: { ...task, promptFormat: 'chat', prompt: '[]' } }, /chat prompt is unusable/],
      [{ method: 'reexecute', task: { ...task, temperature: 0.7 } }, /without a seed cannot be reproduced/],
    ];
    for (const [over, message] of cases) {
      const run = verify(auditOf(task, result, over));
      await expect(run).rejects.toBeInstanceOf(ApplicationFailure);
      await expect(run).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(message) });
    }
  });

  test('cancellation stops an audit and frees its job slot', async () => {
    const task = job({ maxTokens: 900, prompt: 'long' });
    const claimed = { text: 'x', completionTokens: 900, finishReason: 'length' as const, modelSha256: sha256 };
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => setTimeout(() => env.cancel(), 20));
    const run = verify({ ...auditOf(task, { text: '' } as InferenceResult), method: 'reexecute', claimed }, env);
    await expect(run).rejects.toBeInstanceOf(CancelledFailure);
    // The slot and the sequence are free again: another audit runs at once.
    const small = job();
    const report = await verify(auditOf(small, await runJob(small)));
    expect(report.passed).toBe(true);
  });
});
