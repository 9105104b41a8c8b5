/**
 * The job workflow as the spine shipped it: one activity on `model.<key>`, no
 * routing, no billing. Kept only so that jobs accepted before warm and cold
 * routing (histories without the `dispatch-v2` marker) replay and finish.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { InferenceResult, RunnerActivities } from '@trd/protocol';
import { InferenceErrors, inferenceResultProblem } from '@trd/protocol/inference';
import { legacyModelQueue } from '@trd/protocol/queues';
import { describeInferenceFailure } from './failures.js';
import type { JobInput, JobOutcome } from '../platform/workflow-api.js';
import { fail, recordSuccess } from './outcomes.js';

export async function inferenceJobV1(input: JobInput): Promise<JobOutcome> {
  const runner = proxyActivities<RunnerActivities>({
    taskQueue: legacyModelQueue(input.model),
    heartbeatTimeout: input.limits.heartbeatTimeoutMs,
    scheduleToCloseTimeout: input.limits.deadlineMs,
    retry: {
      initialInterval: input.limits.retryInitialIntervalMs,
      maximumAttempts: input.limits.maxAttempts,
      nonRetryableErrorTypes: Object.values(InferenceErrors),
    },
  });
  const task = {
    jobId: input.jobId,
    model: input.model,
    prompt: input.prompt,
    maxTokens: input.maxTokens,
    temperature: input.temperature,
    seed: input.seed,
  };

  let result: InferenceResult;
  try {
    result = await runner.runInference(task);
  } catch (err) {
    return fail(input.jobId, describeInferenceFailure(err));
  }
  const problem = inferenceResultProblem(task, result);
  if (problem) return fail(input.jobId, `runner ${result.workerId} returned an invalid result: ${problem}`);

  return recordSuccess(input, result);
}
