/** A job's ending, as every version of the job workflow writes it: sign and record a success, or record a failure. */
import type { InferenceResult, SignedReceipt } from '@trd/protocol';
import type { JobBilling } from '../activities/platform-activities.js';
import { rootMessage } from './failures.js';
import type { JobInput, JobOutcome } from '../platform/workflow-api.js';
import { platform, receipts } from './platform.js';

/** `billing` is absent only for jobs accepted before billing (inferenceJobV1). */
export async function recordSuccess(input: JobInput, result: InferenceResult, billing?: JobBilling): Promise<JobOutcome> {
  let receipt: SignedReceipt;
  try {
    const request = { jobId: input.jobId, promptSha256: input.promptSha256, result, issuedAt: new Date().toISOString() };
    // Only jobs accepted with a session (none before chains existed) take this path, so older histories replay unchanged.
    receipt = input.sessionId
      ? (await receipts.appendToChain({ ...request, sessionId: input.sessionId })).receipt
      : await receipts.signReceipt(request);
  } catch (err) {
    return fail(input.jobId, `receipt could not be signed: ${rootMessage(err)}`);
  }
  // Runner's clock against the gateway's: clock skew shows up here, so never below zero.
  const queueWaitMs = Math.max(0, Date.parse(result.startedAt) - Date.parse(input.acceptedAt));
  await platform.recordJobSucceeded({ jobId: input.jobId, customerId: input.customerId, result, receipt, queueWaitMs, billing });
  return { status: 'succeeded', receipt, completionTokens: result.completionTokens };
}

export async function fail(jobId: string, reason: string): Promise<JobOutcome> {
  await platform.recordJobFailed({ jobId, reason });
  return { status: 'failed', reason };
}
