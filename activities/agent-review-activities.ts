/**
 * The agent review workflow's side effects (workflows/agent-review.ts): the
 * automatic checks, the dry-run job's row, and every review event with who
 * and when. Built over the database in orchestrator/worker.ts. Every write is
 * idempotent: ids come from the submission, the version and the event, so a
 * retried activity changes nothing.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { agentChatPrompt, canonicalize, checkManifest, findModel, type AgentManifest } from '@trd/protocol';
import { reservationMicrocredits } from '../economy/billing.js';
import type { Db } from '../platform/db.js';
import type { JobInput, JobLimits } from '../workflows/inference-job.js';

export interface CheckResult {
  name: 'manifest' | 'model' | 'dry_run';
  ok: boolean;
  detail: string;
}

interface VersionRef {
  submissionId: string;
  slug: string;
  version: string;
}

export type ReviewEventKind = 'reminder' | 'escalation' | 'resubmitted' | 'abandoned';

/** What the dry run asks every agent: a fixed message, so reviewers compare like with like. */
export const DRY_RUN_MESSAGE = 'Hello! In one or two sentences, what can you do for me?';

/** The dry run's job id: one per submitted version, so a retried activity finds the job it wrote. */
export function dryRunJobId(submissionId: string, version: string): string {
  return `job_${createHash('sha256').update(`agent-dry-run:${submissionId}:${version}`).digest('hex').slice(0, 32)}`;
}

export function createAgentReviewActivities(deps: { db: Db }) {
  const { db } = deps;

  async function versionRow(v: VersionRef) {
    const row = await db.agentVersion.findUnique({ where: { slug_version: { slug: v.slug, version: v.version } } });
    if (!row || row.submissionId !== v.submissionId) throw ApplicationFailure.nonRetryable(`submission ${v.submissionId} has no version ${v.version}`, 'UnknownSubmission');
    return row;
  }

  return {
    /** The manifest against the schema (as submitted), and its model in the catalog. */
    async checkManifest(v: VersionRef): Promise<CheckResult[]> {
      const row = await versionRow(v);
      const check = checkManifest(row.manifest);
      const key = (row.manifest as { model?: unknown }).model;
      const model = typeof key === 'string' ? findModel(key) : undefined;
      return [
        { name: 'manifest', ok: check.ok, detail: check.ok ? 'valid' : check.errors.join('; ') },
        { name: 'model', ok: !!model && !model.retired, detail: !model ? `${JSON.stringify(key)} is not in the catalog` : model.retired ? `${model.key} is retired` : `${model.key} (${model.name})` },
      ];
    },

    /** The dry-run job's row (billed to the author like any job, a run of the version under review) and its workflow input. */
    async prepareDryRun(r: VersionRef & { authorId: string; maxTokens: number; limits: JobLimits; reservation: { msPerToken: number; promptMs: number } }): Promise<JobInput> {
      const row = await versionRow(r);
      const manifest = row.manifest as unknown as AgentManifest;
      const model = findModel(manifest.model)!;
      const jobId = dryRunJobId(r.submissionId, r.version);
      const prompt = canonicalize(agentChatPrompt(manifest, [{ role: 'user', content: DRY_RUN_MESSAGE }]));
      const promptSha256 = createHash('sha256').update(prompt).digest('hex');
      const maxTokens = Math.min(manifest.parameters.max_tokens, r.maxTokens);
      const existing = await db.job.findUnique({ where: { id: jobId }, select: { acceptedAt: true } });
      const acceptedAt = existing?.acceptedAt ?? new Date();
      if (!existing) {
        await db.$transaction([
          db.job.createMany({
            data: [
              {
                id: jobId,
                customerId: r.authorId,
                model: model.key,
                promptSha256,
                maxTokens,
                temperature: manifest.parameters.temperature,
                minTier: 'probation',
                status: 'queued',
                acceptedAt,
                reservedMicrocredits: reservationMicrocredits(maxTokens, model.creditsPerHour, r.reservation),
              },
            ],
            skipDuplicates: true,
          }),
          db.agentRun.createMany({ data: [{ jobId, slug: r.slug, version: r.version, manifestSha256: row.manifestSha256, payoutAccount: manifest.payout_account, dryRun: true }], skipDuplicates: true }),
        ]);
      }
      return {
        jobId,
        customerId: r.authorId,
        model: model.key,
        prompt,
        promptSha256,
        maxTokens,
        temperature: manifest.parameters.temperature,
        minTier: 'probation',
        creditsPerHour: model.creditsPerHour,
        acceptedAt: acceptedAt.toISOString(),
        limits: r.limits,
        promptFormat: 'chat',
        ...(manifest.parameters.stop.length ? { stop: manifest.parameters.stop } : {}),
      };
    },

    /** The checks on the version, the dry run's output beside them; the submission waits for a reviewer or the author. */
    async recordChecks(r: VersionRef & { checks: CheckResult[]; dryRunJobId: string | null }): Promise<boolean> {
      const ok = r.checks.every((c) => c.ok);
      const job = r.dryRunJobId ? await db.job.findUnique({ where: { id: r.dryRunJobId }, select: { output: true } }) : null;
      await db.$transaction([
        db.agentVersion.update({
          where: { slug_version: { slug: r.slug, version: r.version } },
          data: { checks: r.checks as object[], dryRunJobId: r.dryRunJobId, dryRunOutput: job?.output ?? null },
        }),
        db.agentSubmission.update({ where: { id: r.submissionId }, data: { status: ok ? 'awaiting_review' : 'checks_failed' } }),
        db.agentReviewEvent.createMany({
          data: [{ id: `${r.submissionId}:${r.version}:checks`, submissionId: r.submissionId, version: r.version, kind: ok ? 'checks_passed' : 'checks_failed', reasons: ok ? null : r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; '), at: new Date() }],
          skipDuplicates: true,
        }),
      ]);
      return ok;
    },

    /** A reviewer's decision; an approval publishes exactly this version. */
    async recordDecision(d: VersionRef & { reviewerId: string; action: 'approve' | 'reject' | 'request_changes'; reasons: string | null; at: string }): Promise<void> {
      const status = d.action === 'approve' ? 'approved' : d.action === 'reject' ? 'rejected' : 'changes_requested';
      const at = new Date(d.at);
      await db.$transaction([
        db.agentReviewEvent.createMany({
          data: [{ id: `${d.submissionId}:${d.version}:decision`, submissionId: d.submissionId, version: d.version, kind: d.action, actorId: d.reviewerId, reasons: d.reasons, at }],
          skipDuplicates: true,
        }),
        db.agentSubmission.update({ where: { id: d.submissionId }, data: { status } }),
        ...(d.action === 'approve' ? [db.agent.update({ where: { slug: d.slug }, data: { publishedVersion: d.version, publishedAt: at } })] : []),
      ]);
    },

    /** A reminder or escalation (nobody reviewed within the SLA), the author's new version, or the end of a wait. */
    async recordReviewEvent(e: VersionRef & { kind: ReviewEventKind; at: string; reminders: number; escalated: boolean }): Promise<void> {
      const at = new Date(e.at);
      const submission =
        e.kind === 'resubmitted'
          ? { status: 'checking', currentVersion: e.version, reminders: 0, escalatedAt: null }
          : e.kind === 'abandoned'
            ? { status: 'abandoned' }
            : { reminders: e.reminders, ...(e.kind === 'escalation' ? { escalatedAt: at } : {}) };
      const suffix = e.kind === 'reminder' || e.kind === 'escalation' ? `:${e.reminders}` : '';
      await db.$transaction([
        db.agentReviewEvent.createMany({ data: [{ id: `${e.submissionId}:${e.version}:${e.kind}${suffix}`, submissionId: e.submissionId, version: e.version, kind: e.kind, at }], skipDuplicates: true }),
        db.agentSubmission.update({ where: { id: e.submissionId }, data: submission }),
      ]);
      if (e.kind === 'reminder' || e.kind === 'escalation') {
        // The queue page shows it; operators see it in the orchestrator's log.
        console.warn(`agent review: submission ${e.submissionId} (${e.slug} ${e.version}) has waited past its SLA: ${e.kind} ${e.reminders}`);
      }
    },
  };
}

export type AgentReviewActivities = ReturnType<typeof createAgentReviewActivities>;
