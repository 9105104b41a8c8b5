/**
 * One agent submission's review (workflow id agent-review-<submission id>):
 * the automatic checks first (the manifest against the schema, the model in
 * the catalog, a dry run on the network as an ordinary job, a child
 * workflow), then it waits for a reviewer. Reviewers decide through the
 * `review` update: approve (publishes exactly the version reviewed), reject
 * with reasons, or request changes, after which the author's `resubmit`
 * update brings a new version and the same workflow checks and waits again.
 * While nobody decides, a durable timer reminds the reviewers every SLA and
 * escalates after `remindersBeforeEscalation` reminders. Every decision,
 * reminder and escalation is written by an activity with who and when, and
 * the update's arguments (the reviewer, the reasons) are in this history.
 */
import { ApplicationFailure, allHandlersFinished, condition, defineQuery, defineUpdate, executeChild, proxyActivities, setHandler } from '@temporalio/workflow';
import { workflowIdForJob } from '@trd/protocol/ids';
import { AGENT_RESUBMIT_UPDATE, AGENT_REVIEW_UPDATE } from '../platform/workflow-api.js';
import type { AgentReviewActivities, CheckResult } from '../activities/agent-review-activities.js';
import type { JobLimits, JobOutcome, inferenceJob } from './inference-job.js';

export interface AgentReviewSettings {
  /** Reviewers are reminded when a submission waits this long without a decision, and again each time after. */
  slaMs: number;
  /** After this many reminders the submission is escalated (once). */
  remindersBeforeEscalation: number;
  /** How long a submission waits for the author's new version after changes were requested; then it is abandoned. */
  resubmitWaitMs: number;
  /** The dry run: at most this many tokens, as a job with these bounds. */
  dryRunMaxTokens: number;
  dryRunLimits: JobLimits;
  /** What the dry-run job holds against the author's cap while it runs (economy/billing.ts). */
  reservation: { msPerToken: number; promptMs: number };
}

export interface AgentReviewInput {
  submissionId: string;
  slug: string;
  authorId: string;
  /** The first version submitted. */
  version: string;
  settings: AgentReviewSettings;
}

export type ReviewPhase = 'checking' | 'checks_failed' | 'awaiting_review' | 'changes_requested' | 'approved' | 'rejected' | 'abandoned';

export interface ReviewStatus {
  phase: ReviewPhase;
  version: string;
  reminders: number;
  escalated: boolean;
}

export interface ReviewDecision {
  reviewerId: string;
  /** The version the reviewer looked at: a decision on another one is refused. */
  version: string;
  action: 'approve' | 'reject' | 'request_changes';
  reasons?: string;
}

export const reviewUpdate = defineUpdate<ReviewStatus, [ReviewDecision]>(AGENT_REVIEW_UPDATE);
export const resubmitUpdate = defineUpdate<ReviewStatus, [{ version: string }]>(AGENT_RESUBMIT_UPDATE);
export const reviewStatusQuery = defineQuery<ReviewStatus>('reviewStatus');

export const ReviewErrors = { NotAwaitingReview: 'NotAwaitingReview', OwnSubmission: 'OwnSubmission', ReasonsRequired: 'ReasonsRequired', NotAwaitingChanges: 'NotAwaitingChanges' } as const;

const acts = proxyActivities<AgentReviewActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['UnknownSubmission'] },
});

export async function agentReview(input: AgentReviewInput): Promise<ReviewStatus> {
  const s = input.settings;
  let version = input.version;
  let phase: ReviewPhase = 'checking';
  let decision: ReviewDecision | null = null;
  let resubmitted: string | null = null;
  const seen = new Set([version]);
  let reminders = 0;
  let escalated = false;
  const status = (): ReviewStatus => ({ phase, version, reminders, escalated });
  const refuse = (message: string, type: string) => {
    throw ApplicationFailure.nonRetryable(message, type);
  };

  setHandler(reviewStatusQuery, status);
  setHandler(
    reviewUpdate,
    async (d) => {
      decision = d;
      // Answered once the decision is recorded, so the reviewer sees its effect.
      await condition(() => decision === null);
      return status();
    },
    {
      validator: (d) => {
        if (phase !== 'awaiting_review' || decision !== null) refuse(`the submission is ${phase}, not awaiting a review`, ReviewErrors.NotAwaitingReview);
        if (d.version !== version) refuse(`version ${d.version} is not the one under review (${version})`, ReviewErrors.NotAwaitingReview);
        if (d.reviewerId === input.authorId) refuse('a reviewer cannot decide their own submission', ReviewErrors.OwnSubmission);
        if (d.action !== 'approve' && !d.reasons?.trim()) refuse(`${d.action} needs reasons for the author`, ReviewErrors.ReasonsRequired);
      },
    },
  );
  setHandler(
    resubmitUpdate,
    async ({ version: next }) => {
      resubmitted = next;
      await condition(() => resubmitted === null);
      return status();
    },
    {
      validator: ({ version: next }) => {
        if ((phase !== 'changes_requested' && phase !== 'checks_failed') || resubmitted !== null) refuse(`the submission is ${phase}: a new version is taken after changes were requested or checks failed`, ReviewErrors.NotAwaitingChanges);
        if (seen.has(next)) refuse(`version ${next} was submitted before; give the new one its own version`, ReviewErrors.NotAwaitingChanges);
      },
    },
  );

  const at = () => new Date(Date.now()).toISOString();
  const ids = { submissionId: input.submissionId, slug: input.slug };
  const finish = async (end: ReviewPhase) => {
    phase = end;
    decision = null;
    await condition(allHandlersFinished);
    return status();
  };

  for (;;) {
    phase = 'checking';
    const passed = await runChecks(input, version);
    if (passed) {
      phase = 'awaiting_review';
      // Durable timers: a reminder each SLA without a decision, an escalation after enough of them.
      while (!(await condition(() => decision !== null, s.slaMs))) {
        reminders++;
        const escalate = !escalated && reminders >= s.remindersBeforeEscalation;
        if (escalate) escalated = true;
        await acts.recordReviewEvent({ ...ids, version, kind: escalate ? 'escalation' : 'reminder', at: at(), reminders, escalated });
      }
      const d: ReviewDecision = decision!;
      await acts.recordDecision({ ...ids, version, reviewerId: d.reviewerId, action: d.action, reasons: d.reasons ?? null, at: at() });
      if (d.action === 'approve') return finish('approved');
      if (d.action === 'reject') return finish('rejected');
      phase = 'changes_requested';
      decision = null;
    } else {
      phase = 'checks_failed';
    }
    if (!(await condition(() => resubmitted !== null, s.resubmitWaitMs))) {
      await acts.recordReviewEvent({ ...ids, version, kind: 'abandoned', at: at(), reminders, escalated });
      return finish('abandoned');
    }
    version = resubmitted!;
    seen.add(version);
    reminders = 0;
    escalated = false;
    await acts.recordReviewEvent({ ...ids, version, kind: 'resubmitted', at: at(), reminders, escalated });
    phase = 'checking';
    resubmitted = null;
  }
}

/** The manifest and model checks, then the dry run as a child job workflow; all recorded on the version. True when all passed. */
async function runChecks(input: AgentReviewInput, version: string): Promise<boolean> {
  const ids = { submissionId: input.submissionId, slug: input.slug, version };
  const checks: CheckResult[] = await acts.checkManifest(ids);
  if (checks.every((c) => c.ok)) {
    const job = await acts.prepareDryRun({ ...ids, authorId: input.authorId, maxTokens: input.settings.dryRunMaxTokens, limits: input.settings.dryRunLimits, reservation: input.settings.reservation });
    const outcome = await executeChild<typeof inferenceJob>('inferenceJob', { workflowId: workflowIdForJob(job.jobId), args: [job] });
    checks.push(dryRunCheck(outcome));
    return acts.recordChecks({ ...ids, checks, dryRunJobId: job.jobId });
  }
  return acts.recordChecks({ ...ids, checks, dryRunJobId: null });
}

function dryRunCheck(outcome: JobOutcome): CheckResult {
  if (outcome.status === 'succeeded') return { name: 'dry_run', ok: outcome.completionTokens > 0, detail: outcome.completionTokens > 0 ? `generated ${outcome.completionTokens} tokens` : 'generated nothing' };
  return { name: 'dry_run', ok: false, detail: outcome.status === 'failed' ? `the dry run failed: ${outcome.reason}` : 'the dry run was cancelled' };
}
