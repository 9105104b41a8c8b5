/**
 * The runner's second activity: audit another runner's claimed output. It
 * runs like a job (a job slot, then a sequence of the model; heartbeats;
 * Temporal's cancellation stops it), and answers with a report whose reason
 * and mismatch are the evidence the owner sees. An unusable task fails
 * without retries; a failed check is a report, not an error.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { InferenceErrors, RunnerFailures, parseChatPrompt, type ChatMessage, type VerifyProgress, type VerifyReport, type VerifyTask } from '@trd/protocol';
import { PromptTooLongError } from './engine.js';
import { verifyByPrefill, type CheckOutcome } from './prefill-verify.js';
import { UnreproducibleJobError, verifyByReexecution } from './reexecute-verify.js';
import { checkDispatch, type DispatchGuard } from './dispatch-guard.js';
import type { JobSlots } from './job-slots.js';
import { ModelHold, type ServedModel } from './served-model.js';
import { SlotsBusyError } from './semaphore.js';

const HEARTBEAT_EVERY_MS = 200;

/** What both runner activities need (activities.ts adds what only generation does). */
export interface VerifyActivityDeps {
  models: ReadonlyMap<string, ServedModel>;
  workerId: string;
  /** The runner's cap on jobs at once, shared by all its queues. */
  jobSlots: JobSlots;
  /** How long a task may wait for a job slot, then a free sequence, before it is handed back. */
  sequenceWaitMs: number;
  /** Checks each task's signed dispatch envelope; without one (no gateway: a private Temporal) tasks are not checked. */
  dispatchGuard?: DispatchGuard;
  /** Told when a job starts and ends here, and when a model finished loading. */
  events?: { jobStarted(jobId: string): void; jobEnded(jobId: string): void; modelLoaded(key: string): void };
}

export function createVerifyActivity(deps: VerifyActivityDeps): (task: VerifyTask) => Promise<VerifyReport> {
  const { models, workerId, events } = deps;
  return async function verifyInference(audit: VerifyTask): Promise<VerifyReport> {
    const ctx = Context.current();
    const problem = verifyTaskProblem(audit);
    if (problem) throw ApplicationFailure.nonRetryable(`audit task is unusable: ${problem}`, InferenceErrors.InvalidTask);
    const { task, claimed } = audit;
    await checkDispatch(deps.dispatchGuard, { jobId: audit.auditId, model: task.model, prompt: task.prompt, dispatch: audit.dispatch }, workerId, 'audit');
    const served = models.get(task.model);
    if (!served) throw ApplicationFailure.nonRetryable(`this runner serves ${[...models.keys()].join(', ')}, not ${task.model}`, InferenceErrors.InvalidTask);
    let chat: ChatMessage[] | undefined;
    if (task.promptFormat === 'chat') {
      try {
        chat = parseChatPrompt(task.prompt);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`the audited job's chat prompt is unusable: ${(err as Error).message}`, InferenceErrors.InvalidTask);
      }
    }
    const report = ({ passed, reason, tokensChecked, mismatch }: CheckOutcome, verifyMs: number): VerifyReport => ({
      auditId: audit.auditId,
      auditorId: workerId,
      method: audit.method,
      passed,
      reason,
      tokensChecked,
      mismatch,
      auditorModelSha256: served.model.sha256,
      verifyMs: Math.round(verifyMs),
    });
    // A different model file settles it: no compute needed.
    if (claimed.modelSha256 !== served.model.sha256) {
      const reason = `claims model file ${claimed.modelSha256}; ${task.model} is ${served.model.sha256}`;
      return report({ passed: false, reason, tokensChecked: 0, mismatch: null }, 0);
    }

    const jobId = `audit:${audit.auditId}`;
    const progress = (phase: VerifyProgress['phase'], tokensChecked = 0): VerifyProgress => ({ workerId, phase, tokensChecked });
    let phase: VerifyProgress['phase'] = served.loaded ? 'waiting' : 'loading';
    let checked = 0;
    ctx.heartbeat(progress(phase));
    const beat = setInterval(() => ctx.heartbeat(progress(phase, checked)), HEARTBEAT_EVERY_MS);
    events?.jobStarted(jobId);
    const hold = new ModelHold();
    try {
      const { engine } = await hold.acquire(deps, served, ctx.cancellationSignal, (loadMs) => {
        if (loadMs > 0) events?.modelLoaded(served.key);
        phase = 'waiting';
      });
      phase = 'verifying';
      const started = performance.now();
      const job = { prompt: task.prompt, chat, maxTokens: task.maxTokens, temperature: task.temperature, topP: task.topP, seed: task.seed, stop: task.stop };
      const onProgress = (n: number) => (checked = n);
      const outcome =
        audit.method === 'prefill'
          ? await verifyByPrefill(engine, { ...job, claimed, minTokenProbability: audit.minTokenProbability, signal: ctx.cancellationSignal, onProgress })
          : await verifyByReexecution(engine, { ...job, claimed, signal: ctx.cancellationSignal, onProgress });
      return report(outcome, performance.now() - started);
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('audit cancelled');
      if (err instanceof PromptTooLongError) throw ApplicationFailure.nonRetryable(err.message, InferenceErrors.PromptTooLong);
      if (err instanceof UnreproducibleJobError) throw ApplicationFailure.nonRetryable(err.message, InferenceErrors.InvalidTask);
      if (err instanceof SlotsBusyError) throw ApplicationFailure.retryable(`runner ${workerId} is busy: ${err.message}`, RunnerFailures.RunnerBusy);
      throw err;
    } finally {
      clearInterval(beat);
      hold.free();
      events?.jobEnded(jobId);
    }
  };
}

/** What makes an audit task unusable, or null. Checked before any work, so bad input costs nothing. */
export function verifyTaskProblem(audit: VerifyTask): string | null {
  if (!audit || typeof audit !== 'object') return 'not an object';
  if (typeof audit.auditId !== 'string' || !audit.auditId) return 'no auditId';
  if (audit.method !== 'prefill' && audit.method !== 'reexecute') return `method ${JSON.stringify(audit.method)} is not prefill or reexecute`;
  const t = audit.task;
  if (!t || typeof t.prompt !== 'string' || typeof t.model !== 'string') return 'the audited job has no model or prompt';
  if (!Number.isSafeInteger(t.maxTokens) || t.maxTokens < 1) return 'the audited job has no positive max_tokens';
  if (typeof t.temperature !== 'number' || !(t.temperature >= 0)) return 'the audited job has no temperature >= 0';
  if (t.topP !== undefined && !(t.topP > 0 && t.topP <= 1)) return 'top_p is outside (0, 1]';
  if (t.stop !== undefined && (!Array.isArray(t.stop) || t.stop.some((s) => typeof s !== 'string'))) return 'stop is not a list of strings';
  const c = audit.claimed;
  if (!c || typeof c.text !== 'string') return 'no claimed text';
  if (!Number.isSafeInteger(c.completionTokens) || c.completionTokens < 0) return 'claimed completionTokens is not a non-negative integer';
  if (c.finishReason !== 'length' && c.finishReason !== 'stop') return `claimed finishReason ${JSON.stringify(c.finishReason)} is not length or stop`;
  if (typeof c.modelSha256 !== 'string') return 'no claimed modelSha256';
  if (audit.method === 'prefill' && !(audit.minTokenProbability >= 0 && audit.minTokenProbability < 1)) return 'minTokenProbability is outside [0, 1)';
  return null;
}
