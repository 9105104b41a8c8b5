/** A job's ending, as every version of the job workflow writes it: sign and record a success, or record a failure. */
import { patched } from '@temporalio/workflow';
import type { InferenceResult, SignedReceipt } from '@trd/protocol';
import type { JobBilling } from '../activities/platform-activities.js';
import type { UpstreamResult } from '../activities/upstream-activities.js';
import { rootMessage } from './failures.js';
import type { JobInput, JobOutcome } from '../platform/workflow-api.js';
import { platform, receipts } from './platform.js';

/** `billing` is absent only for jobs accepted before billing (inferenceJobV1). */
/**
 * Marks histories of jobs whose customer asked for a proof of work: before the receipt is signed, the
 * prompt and output are sealed to the customer's key and pinned (receipts.sealProof), and the receipt
 * names the blob's CID. Jobs without `proof` never reach the marker, so their histories are unchanged.
 */
export const PROOF_PINNED = 'proof-pinned';

/**
 * The job's receipt, signed alone or as its session's next link, with its proof's CID when one was asked
 * for. Throws a message for the job's failure when it cannot be signed.
 */
export async function signJobReceipt(input: JobInput, result: InferenceResult | UpstreamResult): Promise<SignedReceipt> {
  try {
    // The sealing activity gets the text and answers the CID alone, so no plaintext or blob enters this history.
    const proofCid =
      input.proof && patched(PROOF_PINNED) ? (await receipts.sealProof({ jobId: input.jobId, publicKey: input.proof.publicKey, prompt: input.prompt, output: result.text })).cid : null;
    const request = { jobId: input.jobId, promptSha256: input.promptSha256, result, issuedAt: new Date().toISOString(), ...(proofCid ? { proofCid } : {}) };
    // Only jobs accepted with a session (none before chains existed) take this path, so older histories replay unchanged.
    return input.sessionId ? (await receipts.appendToChain({ ...request, sessionId: input.sessionId })).receipt : await receipts.signReceipt(request);
  } catch (err) {
    throw new ReceiptNotSigned(`receipt could not be signed: ${rootMessage(err)}`);
  }
}

export class ReceiptNotSigned extends Error {}

export async function recordSuccess(input: JobInput, result: InferenceResult, billing?: JobBilling): Promise<JobOutcome> {
  let receipt: SignedReceipt;
  try {
    receipt = await signJobReceipt(input, result);
  } catch (err) {
    if (err instanceof ReceiptNotSigned) return fail(input.jobId, err.message);
    throw err;
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
