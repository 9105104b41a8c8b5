/**
 * Submitting agents and reviewing them: the API behind /agents/submit and
 * /agents/review. Authors submit with an API key or a dashboard sign-in;
 * each submission is an `agentReview` workflow (workflows/agent-review.ts)
 * and every decision goes to it as an update, so the workflow's rules (the
 * version under review, never one's own, reasons with a refusal) hold
 * whichever gateway replica took the request. The database has what the
 * pages show; the workflow's history has the same actions with who and when.
 */
import { Router, type RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ORCHESTRATOR_QUEUE, agentReviewWorkflowId, checkManifest, manifestDiff, manifestSha256, type AgentManifest } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import type { AgentReviewInput, ReviewDecision, ReviewStatus, agentReview } from '../workflows/agent-review.js';
import { AGENT_RESUBMIT_UPDATE, AGENT_REVIEW_UPDATE } from '../platform/workflow-api.js';
import { ApiError } from './errors.js';
import { inputSchemaProblem } from './agent-input.js';
import { jsonBody } from './json-body.js';
import { requireAccount } from './owner.js';
import { ReviewDecisionBody, SubmissionBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';
import { REVIEWER_ROLE } from '../platform/roles.js';

export { REVIEWER_ROLE };
const SUBMISSION_ID = /^sub_[0-9a-f]{32}$/;
const OPEN = ['checking', 'awaiting_review', 'changes_requested', 'checks_failed'];

type Deps = { db: Db; temporal: Client; settings: GatewaySettings };

export async function isReviewer(db: Db, customerId: string): Promise<boolean> {
  return (await db.accountRole.count({ where: { customerId, role: REVIEWER_ROLE } })) > 0;
}

/** Gives an account the reviewer role (an operator's step: `scripts/grant-role.ts <account> reviewer`). */
export async function grantReviewer(db: Db, customerId: string): Promise<void> {
  await db.accountRole.createMany({ data: [{ customerId, role: REVIEWER_ROLE }], skipDuplicates: true });
}

/** Every problem of a submitted manifest in one 400, nothing written. */
async function validManifest(db: Db, body: unknown): Promise<AgentManifest> {
  const { manifest } = SubmissionBody.parse(body);
  const check = checkManifest(manifest);
  if (!check.ok) throw new ApiError(400, 'invalid_manifest', check.errors.join('; '), check.errors[0].split(':')[0]);
  const schemaProblem = check.manifest.input_schema ? inputSchemaProblem(check.manifest.input_schema) : null;
  if (schemaProblem) throw new ApiError(400, 'invalid_manifest', schemaProblem, 'manifest.input_schema');
  if (!(await db.customer.findUnique({ where: { id: check.manifest.payout_account }, select: { id: true } }))) {
    throw new ApiError(400, 'invalid_manifest', `manifest.payout_account: no account ${check.manifest.payout_account}`, 'manifest.payout_account');
  }
  return check.manifest;
}

export function marketplaceRouter(deps: Deps): Router {
  const { db, temporal, settings } = deps;
  const router = Router();
  const account = requireAccount(db);
  const reviewer: RequestHandler = async (_req, res, next) => {
    if (!(await isReviewer(db, res.locals.customerId))) throw new ApiError(403, 'not_a_reviewer', 'this account does not have the reviewer role');
    next();
  };

  router.post('/v1/agents/submissions', account, async (req, res) => {
    const author = res.locals.customerId as string;
    const manifest = await validManifest(db, jsonBody(req));
    const agent = await db.agent.findUnique({ where: { slug: manifest.slug } });
    if (agent && agent.authorId !== author) throw new ApiError(409, 'slug_taken', `manifest.slug: "${manifest.slug}" belongs to another author; choose another slug`, 'manifest.slug');
    if (await db.agentVersion.findUnique({ where: { slug_version: { slug: manifest.slug, version: manifest.version } } })) {
      throw new ApiError(409, 'version_exists', `manifest.version: ${manifest.slug} ${manifest.version} was submitted before; give the new one its own version`, 'manifest.version');
    }
    const open = await db.agentSubmission.findFirst({ where: { slug: manifest.slug, status: { in: OPEN } }, select: { id: true } });
    if (open) throw new ApiError(409, 'submission_open', `${manifest.slug} is under review in ${open.id}: send the new version there (POST /v1/agents/submissions/${open.id}/versions)`);
    const id = `sub_${randomUUID().replace(/-/g, '')}`;
    const sha = await manifestSha256(manifest);
    const now = new Date();
    try {
      await db.$transaction(async (tx) => {
        await tx.agent.createMany({ data: [{ slug: manifest.slug, authorId: author }], skipDuplicates: true });
        await tx.agentSubmission.create({ data: { id, slug: manifest.slug, authorId: author, status: 'checking', currentVersion: manifest.version, createdAt: now } });
        await tx.agentVersion.create({ data: { slug: manifest.slug, version: manifest.version, submissionId: id, manifest: manifest as object, manifestSha256: sha } });
        await tx.agentReviewEvent.create({ data: { id: `${id}:${manifest.version}:submitted`, submissionId: id, version: manifest.version, kind: 'submitted', actorId: author, at: now } });
      });
    } catch (err) {
      // Two submissions of one slug at once: the open-submission index lets one through.
      if ((err as { code?: string }).code === 'P2002') throw new ApiError(409, 'submission_open', `${manifest.slug} already has a submission under review`);
      throw err;
    }
    const input: AgentReviewInput = {
      submissionId: id,
      slug: manifest.slug,
      authorId: author,
      version: manifest.version,
      settings: { ...settings.agentReview, dryRunLimits: settings.jobLimits, reservation: settings.reservation },
    };
    try {
      await temporal.withDeadline(Date.now() + settings.startTimeoutMs, () =>
        temporal.workflow.start<typeof agentReview>('agentReview', { taskQueue: ORCHESTRATOR_QUEUE, workflowId: agentReviewWorkflowId(id), args: [input] }),
      );
    } catch (err) {
      await db.agentSubmission.update({ where: { id }, data: { status: 'abandoned' } });
      console.error(`gateway: starting the review of ${id} failed:`, err);
      throw new ApiError(503, 'scheduler_unavailable', 'the submission could not be scheduled for review; please retry');
    }
    res.status(201).json(await submissionView(db, id));
  });

  router.get('/v1/agents/submissions', account, async (_req, res) => {
    const mine = await db.agentSubmission.findMany({ where: { authorId: res.locals.customerId }, orderBy: { createdAt: 'desc' }, take: 100, select: { id: true } });
    res.json({ object: 'list', data: await Promise.all(mine.map((s) => submissionView(db, s.id))) });
  });

  router.get('/v1/agents/submissions/:id', account, async (req, res) => {
    const sub = await findSubmission(db, String(req.params.id));
    if (sub.authorId !== res.locals.customerId && !(await isReviewer(db, res.locals.customerId))) throw notFound(String(req.params.id));
    res.json(await submissionView(db, sub.id));
  });

  router.post('/v1/agents/submissions/:id/versions', account, async (req, res) => {
    const sub = await findSubmission(db, String(req.params.id));
    if (sub.authorId !== res.locals.customerId) throw notFound(String(req.params.id));
    const manifest = await validManifest(db, jsonBody(req));
    if (manifest.slug !== sub.slug) throw new ApiError(400, 'invalid_manifest', `manifest.slug: this submission is for "${sub.slug}"`, 'manifest.slug');
    if (sub.status !== 'changes_requested' && sub.status !== 'checks_failed') throw new ApiError(409, 'not_awaiting_changes', `the submission is ${sub.status}: a new version is taken after changes were requested or checks failed`);
    if (await db.agentVersion.findUnique({ where: { slug_version: { slug: manifest.slug, version: manifest.version } } })) {
      throw new ApiError(409, 'version_exists', `manifest.version: ${manifest.slug} ${manifest.version} was submitted before; give the new one its own version`, 'manifest.version');
    }
    await db.agentVersion.create({ data: { slug: manifest.slug, version: manifest.version, submissionId: sub.id, manifest: manifest as object, manifestSha256: await manifestSha256(manifest) } });
    try {
      await temporal.workflow.getHandle(agentReviewWorkflowId(sub.id)).executeUpdate<ReviewStatus, [{ version: string }]>(AGENT_RESUBMIT_UPDATE, { args: [{ version: manifest.version }], updateId: `resubmit-${manifest.version}` });
    } catch (err) {
      // Refused by the workflow (another request got there first): the version was not taken.
      await db.agentVersion.deleteMany({ where: { slug: manifest.slug, version: manifest.version, dryRunJobId: null, submissionId: sub.id } }).catch(() => {});
      throw updateRefused(err);
    }
    res.json(await submissionView(db, sub.id));
  });

  router.get('/v1/review/queue', account, reviewer, async (_req, res) => {
    const pending = await db.agentSubmission.findMany({ where: { status: 'awaiting_review' }, orderBy: { createdAt: 'asc' }, take: 100, select: { id: true } });
    const caller = res.locals.customerId as string;
    res.json({ object: 'list', data: (await Promise.all(pending.map((s) => submissionView(db, s.id)))).map((s) => ({ ...s, own: s.author_id === caller })) });
  });

  router.post('/v1/review/submissions/:id/decision', account, reviewer, async (req, res) => {
    const sub = await findSubmission(db, String(req.params.id));
    const d = ReviewDecisionBody.parse(jsonBody(req));
    const reviewerId = res.locals.customerId as string;
    if (sub.authorId === reviewerId) throw new ApiError(403, 'own_submission', 'a reviewer cannot decide their own submission');
    if (sub.status !== 'awaiting_review') throw new ApiError(409, 'not_awaiting_review', `the submission is ${sub.status}, not awaiting a review`);
    try {
      await temporal.workflow.getHandle(agentReviewWorkflowId(sub.id)).executeUpdate<ReviewStatus, [ReviewDecision]>(AGENT_REVIEW_UPDATE, {
        args: [{ reviewerId, version: d.version, action: d.action, ...(d.reasons ? { reasons: d.reasons } : {}) }],
        updateId: `${d.action}-${d.version}-${reviewerId}`,
      });
    } catch (err) {
      throw updateRefused(err);
    }
    res.json(await submissionView(db, sub.id));
  });

  return router;
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'submission_not_found', `no submission ${id} of yours`);
}

async function findSubmission(db: Db, id: string) {
  const sub = SUBMISSION_ID.test(id) ? await db.agentSubmission.findUnique({ where: { id } }) : null;
  if (!sub) throw notFound(id);
  return sub;
}

/** The workflow's own refusal (its validator's message), as a 409. */
function updateRefused(err: unknown): ApiError {
  if (err instanceof WorkflowUpdateFailedError) return new ApiError(409, 'review_refused', (err.cause as Error | undefined)?.message ?? err.message);
  throw err;
}

/** A submission with its versions (manifest, checks, dry-run output), events, and the diff of its current version against the published one. */
export async function submissionView(db: Db, id: string) {
  const sub = await db.agentSubmission.findUniqueOrThrow({ where: { id } });
  const [versions, events, agent] = await Promise.all([
    db.agentVersion.findMany({ where: { submissionId: id }, orderBy: { createdAt: 'asc' } }),
    db.agentReviewEvent.findMany({ where: { submissionId: id }, orderBy: { at: 'asc' } }),
    db.agent.findUniqueOrThrow({ where: { slug: sub.slug } }),
  ]);
  const published = agent.publishedVersion ? await db.agentVersion.findUnique({ where: { slug_version: { slug: sub.slug, version: agent.publishedVersion } } }) : null;
  const current = versions.find((v) => v.version === sub.currentVersion);
  return {
    id: sub.id,
    object: 'agent_submission',
    slug: sub.slug,
    author_id: sub.authorId,
    status: sub.status,
    current_version: sub.currentVersion,
    reminders: sub.reminders,
    escalated_at: sub.escalatedAt?.toISOString() ?? null,
    created_at: sub.createdAt.toISOString(),
    workflow_id: agentReviewWorkflowId(sub.id),
    versions: versions.map((v) => ({
      version: v.version,
      manifest: v.manifest,
      manifest_sha256: v.manifestSha256,
      checks: v.checks ?? null,
      dry_run_job_id: v.dryRunJobId,
      dry_run_output: v.dryRunOutput,
      created_at: v.createdAt.toISOString(),
    })),
    events: events.map((e) => ({ kind: e.kind, version: e.version, actor_id: e.actorId, reasons: e.reasons, at: e.at.toISOString() })),
    published_version: published?.version ?? null,
    diff: current ? manifestDiff((published?.manifest ?? null) as AgentManifest | null, current.manifest as unknown as AgentManifest) : [],
  };
}
