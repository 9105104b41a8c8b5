/**
 * The job workflow as the spine shipped it: one activity on `model.<key>`, no
 * routing, no billing. Kept only so that jobs accepted before warm and cold
 * routing (histories without the `dispatch-v2` marker) replay and finish.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { InferenceResult, RunnerActivities, SignedReceipt } from '@trd/protocol';
import { InferenceErrors, inferenceResultProblem } from '@trd/protocol/inference';
import { legacyModelQueue } from '@trd/protocol/queues';
import { describeInferenceFailure, rootMessage } from './failures.js';
import type { JobInput, JobOutcome } from './inference-job.js';
import { platform } from './platform.js';

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

  let receipt: SignedReceipt;
  try {
    receipt = await platform.signReceipt({
      jobId: input.jobId,
      promptSha256: input.promptSha256,
      result,
      issuedAt: new Date().toISOString(),
    });
  } catch (err) {
    return fail(input.jobId, `receipt could not be signed: ${rootMessage(err)}`);
  }
  const queueWaitMs = Math.max(0, Date.parse(result.startedAt) - Date.parse(input.acceptedAt));
  await platform.recordJobSucceeded({ jobId: input.jobId, result, receipt, queueWaitMs });
  return { status: 'succeeded', receipt, completionTokens: result.completionTokens };
}

async function fail(jobId: string, reason: string): Promise<JobOutcome> {
  await platform.recordJobFailed({ jobId, reason });
  return { status: 'failed', reason };
}
