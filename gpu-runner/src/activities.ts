/**
 * The runner's one activity: generate for a task, heartbeating as tokens come
 * so a stalled runner loses the job quickly, and stopping when Temporal
 * cancels it (cancellation arrives through heartbeats).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { InferenceErrors, type InferenceProgress, type InferenceResult, type InferenceTask, type RunnerActivities } from '@trd/protocol';
import { PromptTooLongError, type InferenceEngine } from './engine.js';
import { injectFaults, type RunnerFaults } from './faults.js';
import type { ResolvedModel } from './model-files.js';

/**
 * Each heartbeat call crosses the SDK's pipeline into the native core, which
 * throttles sends anyway; calling it per token held the runner to 1,243 tok/s
 * on the tiny model, against 1,662 tok/s at this interval (npm run bench).
 */
const HEARTBEAT_EVERY_MS = 200;

export function createRunnerActivities(deps: {
  engine: InferenceEngine;
  model: ResolvedModel;
  workerId: string;
  faults?: RunnerFaults;
}): RunnerActivities {
  const { engine, model, workerId, faults } = deps;
  return {
    async runInference(task: InferenceTask): Promise<InferenceResult> {
      const ctx = Context.current();
      if (task.model !== model.key) {
        throw ApplicationFailure.nonRetryable(`this runner serves ${model.key}, not ${task.model}`, InferenceErrors.InvalidTask);
      }
      if (!Number.isSafeInteger(task.maxTokens) || task.maxTokens < 1 || typeof task.prompt !== 'string') {
        throw ApplicationFailure.nonRetryable('task has no prompt or no positive max_tokens', InferenceErrors.InvalidTask);
      }
      const progress = (completionTokens: number): InferenceProgress => ({ workerId, completionTokens });
      ctx.heartbeat(progress(0));
      let lastBeat = performance.now();
      const startedAt = new Date();
      try {
        const gen = await engine.generate({
          prompt: task.prompt,
          maxTokens: task.maxTokens,
          temperature: task.temperature,
          seed: task.seed,
          signal: ctx.cancellationSignal,
          onToken: (n) => {
            const now = performance.now();
            if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
              lastBeat = now;
              ctx.heartbeat(progress(n));
            }
            return faults && injectFaults(faults, n, ctx.cancellationSignal);
          },
        });
        return {
          workerId,
          model: model.key,
          modelSha256: model.sha256,
          text: gen.text,
          promptTokens: gen.promptTokens,
          completionTokens: gen.completionTokens,
          finishReason: gen.finishReason,
          startedAt: startedAt.toISOString(),
          finishedAt: new Date().toISOString(),
          // The model was loaded before this runner polled, so no job pays for loading.
          timings: { modelLoadMs: 0, timeToFirstTokenMs: gen.timeToFirstTokenMs, generationMs: gen.generationMs },
        };
      } catch (err) {
        if (err instanceof PromptTooLongError) throw ApplicationFailure.nonRetryable(err.message, InferenceErrors.PromptTooLong);
        throw err;
      }
    },
  };
}

