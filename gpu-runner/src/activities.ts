/**
 * The runner's activities. runInference generates for a task, heartbeating as tokens come
 * so a stalled runner loses the job quickly, and stopping when Temporal
 * cancels it (cancellation arrives through heartbeats). A cancelled
 * generation reports what it produced, so the customer pays for that only.
 * verifyInference audits another runner's output (verify-activity.ts).
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import {
  InferenceErrors,
  RunnerFailures,
  parseChatPrompt,
  type AuditorActivities,
  type ChatMessage,
  type InferenceProgress,
  type InferenceResult,
  type InferenceTask,
  type RunnerActivities,
} from '@trd/protocol';
import { GenerationAborted, PromptTooLongError, type GenerateRequest, type Generation, type InferenceEngine } from './engine.js';
import { checkDispatch } from './dispatch-guard.js';
import { SlotsBusyError } from './semaphore.js';
import { openPushStream, type PushStream } from './stream-push.js';
import { ModelHold } from './served-model.js';
import { createVerifyActivity, type VerifyActivityDeps } from './verify-activity.js';

/**
 * Each heartbeat call crosses the SDK's pipeline into the native core, which
 * throttles sends anyway; calling it per token held the runner to 1,243 tok/s
 * on the tiny model, against 1,662 tok/s at this interval (npm run bench).
 */
const HEARTBEAT_EVERY_MS = 200;


export interface RunnerActivityDeps extends VerifyActivityDeps {
  /** A generation with no new token for this long is aborted and reported as stalled. */
  stallTimeoutMs: number;
  /** How a test build generates (generation-wrapper.ts); the engine's own by default. */
  generate?: (engine: InferenceEngine, req: GenerateRequest) => Promise<Generation>;
  /** Where a streaming job's text is pushed as it is generated; without it the customer sees it at the end. */
  gatewayUrl?: string;
  log?: (line: string) => void;
}

export function createRunnerActivities(deps: RunnerActivityDeps): RunnerActivities & AuditorActivities {
  const { models, workerId, events } = deps;
  const generate = deps.generate ?? ((engine: InferenceEngine, req: GenerateRequest) => engine.generate(req));
  return {
    verifyInference: createVerifyActivity(deps),
    async runInference(task: InferenceTask): Promise<InferenceResult> {
      const ctx = Context.current();
      const served = models.get(task.model);
      if (!served) {
        throw ApplicationFailure.nonRetryable(`this runner serves ${[...models.keys()].join(', ')}, not ${task.model}`, InferenceErrors.InvalidTask);
      }
      if (!Number.isSafeInteger(task.maxTokens) || task.maxTokens < 1 || typeof task.prompt !== 'string') {
        throw ApplicationFailure.nonRetryable('task has no prompt or no positive max_tokens', InferenceErrors.InvalidTask);
      }
      await checkDispatch(deps.dispatchGuard, task, workerId);
      let chat: ChatMessage[] | undefined;
      if (task.promptFormat === 'chat') {
        try {
          chat = parseChatPrompt(task.prompt);
        } catch (err) {
          throw ApplicationFailure.nonRetryable(`task's chat prompt is unusable: ${(err as Error).message}`, InferenceErrors.InvalidTask);
        }
      }
      const progress = (phase: InferenceProgress['phase'], completionTokens = 0): InferenceProgress => ({ workerId, completionTokens, phase });
      events?.jobStarted(task.jobId);
      // Loading and waiting for a sequence are bounded and make no tokens, so a timer heartbeats for them.
      let waitingPhase: InferenceProgress['phase'] = served.loaded ? 'waiting' : 'loading';
      ctx.heartbeat(progress(waitingPhase));
      const waitBeat = setInterval(() => ctx.heartbeat(progress(waitingPhase)), HEARTBEAT_EVERY_MS);
      const startedAt = new Date();
      let push: PushStream | undefined;
      const hold = new ModelHold();
      try {
        const { engine, loadMs } = await hold.acquire(deps, served, ctx.cancellationSignal, (ms) => {
          if (ms > 0) events?.modelLoaded(served.key);
          waitingPhase = 'waiting';
        });
        clearInterval(waitBeat);
        let lastBeat = performance.now();
        // The watchdog: no new token for stallTimeoutMs aborts the generation, so this runner hands the
        // job back at once (not after the heartbeat timeout) and goes on serving.
        const stalled = new AbortController();
        const watchdog = () => setTimeout(() => stalled.abort(new Error(`no new token for ${deps.stallTimeoutMs} ms`)), deps.stallTimeoutMs);
        let stallTimer = watchdog();
        const signal = AbortSignal.any([ctx.cancellationSignal, stalled.signal]);
        if (task.streamToken && deps.gatewayUrl) push = openPushStream(deps.gatewayUrl, task.jobId, task.streamToken, deps.log ?? (() => {}));
        const gen = await generate(engine, {
          prompt: task.prompt,
          chat,
          maxTokens: task.maxTokens,
          temperature: task.temperature,
          topP: task.topP,
          seed: task.seed,
          stop: task.stop,
          signal,
          onText: push && ((text, offset) => push!.write({ offset, text, at: performance.timeOrigin + performance.now() })),
          onToken: (n) => {
            clearTimeout(stallTimer);
            stallTimer = watchdog();
            const now = performance.now();
            if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
              lastBeat = now;
              ctx.heartbeat(progress('generating', n));
            }
          },
        }).finally(() => clearTimeout(stallTimer));
        return resultOf(gen, loadMs);
      } catch (err) {
        if (err instanceof GenerationAborted && ctx.cancellationSignal.aborted) {
          // Temporal records these details with the cancellation; the workflow bills what was generated.
          throw new CancelledFailure('generation cancelled', [resultOf({ ...err.partial, finishReason: 'cancelled' }, 0)]);
        }
        if (err instanceof GenerationAborted) {
          throw ApplicationFailure.retryable(`runner ${workerId} stalled after ${err.partial.completionTokens} token(s): ${err.message}`, RunnerFailures.Stalled);
        }
        if (err instanceof PromptTooLongError) throw ApplicationFailure.nonRetryable(err.message, InferenceErrors.PromptTooLong);
        if (err instanceof SlotsBusyError) throw ApplicationFailure.retryable(`runner ${workerId} is busy: ${err.message}`, RunnerFailures.RunnerBusy);
        throw err;
      } finally {
        // Ended before the result is returned, so the gateway has every chunk before the workflow's answer.
        await push?.close();
        clearInterval(waitBeat);
        hold.free();
        events?.jobEnded(task.jobId);
      }

      function resultOf(gen: Omit<Generation, 'finishReason'> & { finishReason: InferenceResult['finishReason'] }, modelLoadMs: number): InferenceResult {
        return {
          workerId,
          model: served!.key,
          modelSha256: served!.model.sha256,
          text: gen.text,
          promptTokens: gen.promptTokens,
          completionTokens: gen.completionTokens,
          finishReason: gen.finishReason,
          startedAt: startedAt.toISOString(),
          finishedAt: new Date().toISOString(),
          timings: { modelLoadMs, timeToFirstTokenMs: gen.timeToFirstTokenMs, generationMs: gen.generationMs },
        };
      }
    },
  };
}
