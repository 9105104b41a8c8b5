/**
 * The orchestrator's trusted activities: signing receipts and writing job
 * outcomes. Built over their dependencies in orchestrator/worker.ts. Every
 * write is idempotent, since Temporal may run an activity more than once.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { sha256Hex, signReceipt, type InferenceResult, type SignedReceipt } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import type { SigningKey } from '../platform/signing-key.js';

export interface ReceiptRequest {
  jobId: string;
  promptSha256: string;
  result: InferenceResult;
  /** From the workflow's clock, so a retried signing yields the same bytes. */
  issuedAt: string;
}

export interface JobSuccess {
  jobId: string;
  result: InferenceResult;
  receipt: SignedReceipt;
  queueWaitMs: number;
}

export interface JobFailure {
  jobId: string;
  reason: string;
}

export const PlatformErrors = {
  InvalidReceipt: 'InvalidReceipt',
  UnknownJob: 'UnknownJob',
} as const;

export function createPlatformActivities(deps: { db: Db; signingKey: SigningKey }) {
  const { db, signingKey } = deps;
  return {
    async signReceipt(req: ReceiptRequest): Promise<SignedReceipt> {
      const r = req.result;
      const durationMs = Date.parse(r.finishedAt) - Date.parse(r.startedAt);
      try {
        return await signReceipt(
          {
            job_id: req.jobId,
            worker_id: r.workerId,
            model: r.model,
            model_sha256: r.modelSha256,
            prompt_sha256: req.promptSha256,
            // Hashed here, on the trusted side, from the text the customer will get.
            output_sha256: await sha256Hex(r.text),
            prompt_tokens: r.promptTokens,
            completion_tokens: r.completionTokens,
            started_at: r.startedAt,
            finished_at: r.finishedAt,
            duration_ms: durationMs,
            issued_at: req.issuedAt,
          },
          signingKey.secretKey,
        );
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, PlatformErrors.InvalidReceipt);
      }
    },

    async recordJobSucceeded(s: JobSuccess): Promise<void> {
      const r = s.result;
      await db.$transaction(async (tx) => {
        const updated = await tx.job.updateMany({
          where: { id: s.jobId, status: { in: ['queued', 'running'] } },
          data: {
            status: 'succeeded',
            output: r.text,
            finishReason: r.finishReason,
            promptTokens: r.promptTokens,
            completionTokens: r.completionTokens,
            workerId: r.workerId,
            queueWaitMs: s.queueWaitMs,
            modelLoadMs: r.timings.modelLoadMs,
            timeToFirstTokenMs: r.timings.timeToFirstTokenMs,
            generationMs: r.timings.generationMs,
            finishedAt: new Date(r.finishedAt),
          },
        });
        if (updated.count === 0 && !(await tx.job.findUnique({ where: { id: s.jobId }, select: { id: true } }))) {
          throw ApplicationFailure.nonRetryable(`job ${s.jobId} does not exist`, PlatformErrors.UnknownJob);
        }
        await tx.receipt.upsert({
          where: { jobId: s.jobId },
          create: { jobId: s.jobId, kid: s.receipt.envelope.kid, document: s.receipt as object },
          update: {},
        });
      });
    },

    async recordJobFailed(f: JobFailure): Promise<void> {
      await db.job.updateMany({
        where: { id: f.jobId, status: { in: ['queued', 'running'] } },
        data: { status: 'failed', error: f.reason, finishedAt: new Date() },
      });
    },
  };
}

export type PlatformActivities = ReturnType<typeof createPlatformActivities>;
