/**
 * The orchestrator's trusted activities that write job outcomes (receipts are
 * signed in receipt-activities.ts). Built over their dependencies in
 * orchestrator/worker.ts. Every write is idempotent, since Temporal may run an
 * activity more than once.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { cidOfBytes, receiptDocumentBytes, type InferenceResult, type SignedReceipt } from '@trd/protocol';
import { jobSettlement, postTransaction, upstreamSettlement } from '../economy/ledger.js';
import type { Db } from '../platform/db.js';
import { recordDecisions } from '../platform/runner-decisions.js';
import { PlatformFailures } from '../platform/workflow-api.js';
import type { UpstreamResult } from './upstream-activities.js';

/** What a job costs and who earns it, as the workflow computed it (economy/billing.ts). */
export interface JobBilling {
  workerId: string;
  billableMs: number;
  chargeMicrocredits: number;
}

/** A job an upstream tier served (workflows/cascade.ts): the customer pays its price, the provider is owed its cost, no runner earns. */
export interface UpstreamBilling {
  /** `provider:<name>` or `pod:<name>`. */
  servedBy: string;
  /** The upstream's answer time (what a per-second price bills). */
  billableMs: number;
  chargeMicrocredits: number;
  providerCostMicrocredits: number;
}

export interface JobSuccess {
  jobId: string;
  /** A runner's result, or an upstream tier's (the cascade). */
  result: InferenceResult | UpstreamResult;
  receipt: SignedReceipt;
  queueWaitMs: number;
  /** Absent only for jobs accepted before billing (inferenceJobV1). */
  customerId?: string;
  billing?: JobBilling | UpstreamBilling;
}

const isUpstream = (r: InferenceResult | UpstreamResult): r is UpstreamResult => 'servedBy' in r;

export interface JobCancellation {
  jobId: string;
  customerId: string;
  /** What the runner generated before it stopped, when it got that far. */
  partial: InferenceResult | null;
  billing: JobBilling | null;
}

/** An attempt that did not give the accepted result, held against its runner. */
export interface AttemptRecord {
  /** `<job id>:<attempt number>`, so a replayed write changes nothing. */
  id: string;
  jobId: string;
  workerId: string;
  outcome: 'invalid_result' | 'moved_to_faster_runner';
  detail: string;
}

export interface JobFailure {
  jobId: string;
  reason: string;
}

export function createPlatformActivities(deps: {
  db: Db;
  touchRunner?: (runnerId: string) => void;
  /** Starts the job's audit when the sample picks it (activities/audit-activities.ts); idempotent. */
  auditIfSampled?: (jobId: string, result: InferenceResult) => Promise<unknown>;
}) {
  const { db } = deps;
  const touch = (runnerId: string | null | undefined) => runnerId && deps.touchRunner?.(runnerId);
  return {
    async recordJobSucceeded(s: JobSuccess): Promise<void> {
      const r = s.result;
      const upstream = isUpstream(r) ? r : null;
      const billing = s.billing;
      await db.$transaction(async (tx) => {
        const updated = await tx.job.updateMany({
          where: { id: s.jobId, status: { in: ['queued', 'running'] } },
          data: {
            status: 'succeeded',
            output: r.text,
            finishReason: r.finishReason,
            promptTokens: r.promptTokens,
            completionTokens: r.completionTokens,
            workerId: upstream ? null : (r as InferenceResult).workerId,
            servedBy: upstream?.servedBy,
            providerCostMicrocredits: billing && 'servedBy' in billing ? BigInt(billing.providerCostMicrocredits) : undefined,
            queueWaitMs: s.queueWaitMs,
            modelLoadMs: r.timings.modelLoadMs,
            timeToFirstTokenMs: r.timings.timeToFirstTokenMs,
            generationMs: r.timings.generationMs,
            billableMs: s.billing?.billableMs,
            chargeMicrocredits: s.billing ? BigInt(s.billing.chargeMicrocredits) : undefined,
            finishedAt: new Date(r.finishedAt),
          },
        });
        if (updated.count === 0 && !(await tx.job.findUnique({ where: { id: s.jobId }, select: { id: true } }))) {
          throw ApplicationFailure.nonRetryable(`job ${s.jobId} does not exist`, PlatformFailures.UnknownJob);
        }
        // A session's receipt was written with its place in the chain; a job's own receipt is written here.
        await tx.receipt.upsert({
          where: { jobId: s.jobId },
          create: { jobId: s.jobId, kid: s.receipt.envelope.kid, document: s.receipt as object, cid: await cidOfBytes(receiptDocumentBytes(s.receipt)) },
          update: {},
        });
        if (billing && s.customerId) {
          await postTransaction(tx, 'servedBy' in billing ? upstreamSettlement(s.jobId, s.customerId, billing) : await jobSettlement(tx, s.jobId, s.customerId, billing));
        }
      });
      // No runner to audit or to credit with a job when an upstream tier served it.
      if (upstream) return;
      // Here and not in the job workflow, whose histories must not change; after the commit, so an audit only sees recorded jobs.
      await deps.auditIfSampled?.(s.jobId, r as InferenceResult);
      touch((r as InferenceResult).workerId);
    },

    async recordJobCancelled(c: JobCancellation): Promise<void> {
      const p = c.partial;
      await db.$transaction(async (tx) => {
        await tx.job.updateMany({
          where: { id: c.jobId, status: { in: ['queued', 'running'] } },
          data: {
            status: 'cancelled',
            error: 'cancelled by the customer',
            output: p?.text,
            finishReason: p ? 'cancelled' : undefined,
            promptTokens: p?.promptTokens,
            completionTokens: p?.completionTokens ?? 0,
            workerId: p?.workerId,
            timeToFirstTokenMs: p?.timings.timeToFirstTokenMs,
            generationMs: p?.timings.generationMs,
            billableMs: c.billing?.billableMs ?? 0,
            chargeMicrocredits: BigInt(c.billing?.chargeMicrocredits ?? 0),
            finishedAt: new Date(),
          },
        });
        if (c.billing) await postTransaction(tx, await jobSettlement(tx, c.jobId, c.customerId, c.billing));
      });
    },

    async recordAttempt(a: AttemptRecord): Promise<void> {
      await db.jobAttempt.createMany({ data: [a], skipDuplicates: true });
      // A job taken off a runner for running long is a decision about it, which its owner can prove.
      if (a.outcome === 'moved_to_faster_runner') {
        await recordDecisions(db, [{ runnerId: a.workerId, kind: 'job_moved', key: `moved:${a.id}`, detail: { job_id: a.jobId, reason: a.detail }, at: new Date() }]);
      }
      // A result the platform's checks refused is a failed audit of its runner, with the evidence.
      if (a.outcome === 'invalid_result' && (await db.runner.findUnique({ where: { id: a.workerId }, select: { id: true } }))) {
        await db.runnerAudit.createMany({ data: [{ id: a.id, runnerId: a.workerId, jobId: a.jobId, passed: false, detail: `result refused: ${a.detail}` }], skipDuplicates: true });
      }
      touch(a.workerId);
    },

    async recordJobFailed(f: JobFailure): Promise<void> {
      await db.job.updateMany({
        where: { id: f.jobId, status: { in: ['queued', 'running'] } },
        // A failed job is never charged.
        data: { status: 'failed', error: f.reason, billableMs: 0, chargeMicrocredits: 0n, finishedAt: new Date() },
      });
    },
  };
}

export type PlatformActivities = ReturnType<typeof createPlatformActivities>;
