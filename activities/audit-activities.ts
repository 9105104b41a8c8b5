/**
 * Audits, the platform's side: deciding which succeeded jobs are audited and
 * starting their audit workflow, finding an auditor, and recording the
 * verdict with its evidence. Built over their dependencies in
 * orchestrator/worker.ts. Every write is idempotent: Temporal may run an
 * activity more than once.
 */
import { WorkflowExecutionAlreadyStartedError, isGrpcServiceError, type Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { ORCHESTRATOR_QUEUE, signDispatch, workflowIdForJob, type InferenceResult, type VerifyReport, type VerifyTask } from '@trd/protocol';
import { eligibleRunners } from '../dispatch/eligible.js';
import type { DispatchSettings } from '../dispatch/settings.js';
import { auditRateBps, isSampled, type SamplingKey } from '../audits/sampling.js';
import { auditMethodFor, type AuditSettings } from '../audits/settings.js';
import { auditVerdict } from '../audits/verdict.js';
import type { Db } from '../platform/db.js';
import type { Signer } from '../orchestrator/signing-keys.js';
import { auditWorkflowId, inferenceTaskFor, type AuditInput, type AuditOutcome, type JobInput } from '../platform/workflow-api.js';

/** gRPC NOT_FOUND: no such workflow (or its history is past the namespace's retention). */
const GRPC_NOT_FOUND = 5;

export interface AuditDeps {
  db: Db;
  client: Client;
  dispatch: DispatchSettings;
  settings: AuditSettings;
  samplingKey: SamplingKey;
  /** Signs the auditor's task (protocol/dispatch.ts): auditors, like all runners, refuse unsigned work. */
  signer: Signer;
  /** Recomputes these runners' reputation and tier now (activities/reputation-activities.ts). */
  refreshReputation: (runnerIds: string[]) => Promise<unknown>;
}

export function createAudits(deps: AuditDeps) {
  const { db, client, settings } = deps;

  return {
    /**
     * After a job succeeded: audits it when the sample says so, by starting its
     * audit workflow. The sample is a keyed hash of the job id, so a retry
     * decides the same, and the workflow id is the job's, so it starts once.
     */
    async auditIfSampled(jobId: string, result: InferenceResult): Promise<boolean> {
      // Not sampled even at the higher rate: no need to look the runner up (most jobs, at the usual rates).
      if (!isSampled(deps.samplingKey, jobId, Math.max(settings.rateBps, settings.probationRateBps))) return false;
      const runner = await db.runner.findUnique({ where: { id: result.workerId }, select: { tier: true } });
      // An audit is held against a registered runner; a result from anyone else was never accepted from it.
      if (!runner) return false;
      if (!isSampled(deps.samplingKey, jobId, auditRateBps(settings, runner.tier))) return false;
      const input: AuditInput = {
        jobId,
        auditedWorkerId: result.workerId,
        model: result.model,
        claimed: { text: result.text, completionTokens: result.completionTokens, finishReason: result.finishReason === 'length' ? 'length' : 'stop', modelSha256: result.modelSha256 },
        method: settings.method,
        minTokenProbability: settings.minTokenProbability,
        limits: settings.limits,
      };
      try {
        await client.workflow.start<(input: AuditInput) => Promise<AuditOutcome>>('auditJob', {
          workflowId: auditWorkflowId(jobId),
          taskQueue: ORCHESTRATOR_QUEUE,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (err) {
        // Already audited (a retry after the audit ended): nothing to start.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return true;
    },

    activities: {
      /**
       * The job as its runner got it, from the job workflow's start event: the
       * prompt is kept nowhere else (the database holds only its hash).
       */
      async loadAuditTask(req: AuditInput & { auditId: string }): Promise<{ task: VerifyTask } | { problem: string }> {
        let res;
        try {
          res = await client.workflowService.getWorkflowExecutionHistory({
            namespace: client.options.namespace,
            execution: { workflowId: workflowIdForJob(req.jobId) },
            maximumPageSize: 1,
          });
        } catch (err) {
          if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) return { problem: `job ${req.jobId} has no workflow history (never started, or past retention)` };
          throw err;
        }
        const started = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
        if (!started) return { problem: `the history of job ${req.jobId} has no start event` };
        const job = await decodeFromPayloadsAtIndex<JobInput>(client.options.loadedDataConverter, 0, started.input?.payloads);
        if (job.jobId !== req.jobId || job.model !== req.model) return { problem: `the history of job ${req.jobId} is of another job` };
        const now = new Date();
        const { key } = await deps.signer.active(now);
        const dispatch = await signDispatch(
          {
            job_id: req.auditId,
            model: job.model,
            prompt_sha256: job.promptSha256,
            attempt: 1,
            issued_at: now.toISOString(),
            expires_at: new Date(now.getTime() + req.limits.deadlineMs).toISOString(),
          },
          key.secretKey,
        );
        return {
          task: {
            auditId: req.auditId,
            jobId: req.jobId,
            auditedWorkerId: req.auditedWorkerId,
            method: auditMethodFor(req.method, job),
            // What the job workflow sent its runner, without the stream token.
            task: inferenceTaskFor({ ...job, streamToken: undefined }),
            claimed: req.claimed,
            minTokenProbability: req.minTokenProbability,
            dispatch,
          },
        };
      },

      /**
       * A runner to audit with: up, serving the model, never the one audited
       * (nor one already asked); a trusted one if any is up, else a verified
       * one. Best first: warm and free, as dispatch orders them.
       */
      async pickAuditor(req: { model: string; exclude: string[] }): Promise<string | null> {
        for (const minTier of ['trusted', 'verified'] as const) {
          const runners = await eligibleRunners({ client, db, settings: deps.dispatch }, { model: req.model, minTier, stats: false });
          // Only registered runners of the tier: a poller the platform does not know is trusted with nothing.
          const pick = runners.find((r) => r.tier !== null && !req.exclude.includes(r.workerId));
          if (pick) return pick.workerId;
        }
        return null;
      },

      /** The verdict, once per audit, and its runner's reputation recomputed at once. */
      async recordAudit(req: { task: VerifyTask; report: VerifyReport }): Promise<{ passed: boolean; detail: string }> {
        const { task } = req;
        const verdict = auditVerdict(task, req.report);
        await db.runnerAudit.createMany({
          data: [{ id: task.auditId, runnerId: task.auditedWorkerId, jobId: task.jobId, passed: verdict.passed, detail: verdict.detail, evidence: verdict.evidence as object }],
          skipDuplicates: true,
        });
        // A failed audit demotes within its clean period (economy/reputation.ts): now, not at the next sweep.
        await deps.refreshReputation([task.auditedWorkerId]);
        return { passed: verdict.passed, detail: verdict.detail };
      },
    },
  };
}

export type AuditActivities = ReturnType<typeof createAudits>['activities'];
