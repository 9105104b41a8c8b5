/** The jobs API: accept a job (start its workflow), report it, long-poll it, serve its receipt. */
import { Router, type Request } from 'express';
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { modelQueue, workflowIdForJob, type SignedReceipt } from '@trd/protocol';
import { describeActivityQueue } from '../dispatch/eligible.js';
import type { Db } from '../platform/db.js';
import type { Job, Receipt } from '../generated/prisma/client.js';
import { jsonBody } from './json-body.js';
import { acceptJob, catalogModel, checkJobSize, waitForWorkflow } from './accept-job.js';
import { ApiError } from './errors.js';
import { CreateJobBody, JobIdParam, WaitQuery } from './schemas.js';
import type { GatewaySettings } from './settings.js';

type LiveStatus = 'queued' | 'running' | 'cancelling';
interface Live {
  status: LiveStatus;
  attempt?: number;
  /** The runner working on it now. */
  workerId: string | null;
  /**
   * While queued: tasks waiting in its model's queue, by Temporal's approximate
   * count, which includes tasks whose warm wait expired until a poller drops them.
   */
  queueBacklog?: number;
}

/**
 * An unfinished job's answer (after a `?wait=` or none): ask again, with `?wait=` again. A wait is
 * held at most TRD_MAX_WAIT_SECONDS, silent, so that setting stays below any balancer's idle
 * timeout and the client re-polls rather than being cut (docs/operations.md).
 */
const REPOLL = { 'Retry-After': '1' };

export function jobsRouter(deps: { db: Db; temporal: Client; settings: GatewaySettings }): Router {
  const { db, temporal: client, settings } = deps;
  const router = Router();

  router.post('/v1/jobs', async (req, res) => {
    const body = CreateJobBody.parse(jsonBody(req));
    const waitSeconds = Math.min(WaitQuery.parse(req.query).wait ?? 0, settings.maxWaitSeconds);
    const model = catalogModel(body.model);
    checkJobSize(model, body.max_tokens, body.prompt, 'prompt', settings.maxPromptBytes);

    const { jobId, handle } = await acceptJob(deps, {
      customerId: res.locals.customerId as string,
      apiKeyId: res.locals.apiKeyId as string,
      model: model.key,
      prompt: body.prompt,
      maxTokens: body.max_tokens,
      temperature: body.temperature,
      seed: body.seed,
      minTier: body.min_tier,
      route: body.trd_route,
      header: (n) => req.get(n),
      sessionId: body.session_id,
      ...(body.trd_proof ? { proofKey: body.trd_proof.public_key } : {}),
    });
    // `?wait=S` saves a round trip: answer 200 with the result if it is ready within S seconds.
    if (waitSeconds > 0) await waitForWorkflow(client, handle, waitSeconds * 1000);
    const job = await findJob(db, jobId, res.locals.customerId);
    if (!isTerminal(job)) res.set(REPOLL);
    res
      .status(isTerminal(job) ? 200 : 202)
      .location(`/v1/jobs/${jobId}`)
      .json(jobView(job, null));
  });

  router.get('/v1/jobs/:id', async (req, res) => {
    const jobId = parseJobId(req);
    const { wait } = WaitQuery.parse(req.query);
    const waitSeconds = Math.min(wait ?? 0, settings.maxWaitSeconds);
    let job = await findJob(db, jobId, res.locals.customerId);
    const handle = client.workflow.getHandle(workflowIdForJob(jobId));
    if (!isTerminal(job) && waitSeconds > 0) {
      await waitForWorkflow(client, handle, waitSeconds * 1000);
      job = await findJob(db, jobId, res.locals.customerId);
    }
    const live = isTerminal(job) ? null : await liveStatus(client, handle, job);
    if (!isTerminal(job)) res.set(REPOLL);
    res.json(jobView(job, live));
  });

  // Stops the job: a queued job never runs; a running one stops generating, and only what it generated is charged.
  router.post('/v1/jobs/:id/cancel', async (req, res) => {
    const jobId = parseJobId(req);
    const waitSeconds = Math.min(WaitQuery.parse(req.query).wait ?? 10, settings.maxWaitSeconds);
    let job = await findJob(db, jobId, res.locals.customerId);
    if (isTerminal(job)) throw new ApiError(409, 'job_finished', `the job already ${job.status === 'cancelled' ? 'was cancelled' : job.status}; there is nothing to cancel`);
    const handle = client.workflow.getHandle(workflowIdForJob(jobId));
    await client.withDeadline(Date.now() + settings.startTimeoutMs, () => handle.cancel());
    if (waitSeconds > 0) await waitForWorkflow(client, handle, waitSeconds * 1000);
    job = await findJob(db, jobId, res.locals.customerId);
    res.status(isTerminal(job) ? 200 : 202).json(jobView(job, isTerminal(job) ? null : { status: 'cancelling', attempt: undefined, workerId: null }));
  });

  router.get('/v1/jobs/:id/receipt', async (req, res) => {
    const job = await findJob(db, parseJobId(req), res.locals.customerId);
    if (!job.receipt) {
      const why =
        job.status === 'failed' ? 'the job failed, so it has no receipt' : job.status === 'cancelled' ? 'the job was cancelled, so it has no receipt' : 'the job has not finished yet';
      throw new ApiError(404, 'receipt_not_found', why);
    }
    res.json(job.receipt.document);
  });

  return router;
}

/** A receipt holds hashes, not content, and job ids are unguessable: anyone with the id may fetch and check it. */
export function receiptsRouter(db: Db): Router {
  const router = Router();
  router.get('/v1/receipts/:id', async (req, res) => {
    const receipt = await db.receipt.findUnique({ where: { jobId: parseJobId(req) } });
    if (!receipt) throw new ApiError(404, 'receipt_not_found', `no receipt for job ${req.params.id} (not finished, failed, or no such job)`, 'id');
    // The verify page may be opened from anywhere, even a file.
    res.set('access-control-allow-origin', '*').json(receipt.document);
  });
  return router;
}

function parseJobId(req: Request): string {
  const parsed = JobIdParam.safeParse(req.params.id);
  if (!parsed.success) throw new ApiError(404, 'job_not_found', `no job ${JSON.stringify(req.params.id)}`, 'id');
  return parsed.data;
}

async function findJob(db: Db, id: string, customerId: string) {
  // Another customer's job is reported as missing, not forbidden: ids leak nothing.
  const job = await db.job.findFirst({ where: { id, customerId }, include: { receipt: true } });
  if (!job) throw new ApiError(404, 'job_not_found', `no job ${id}`, 'id');
  return job;
}

function isTerminal(job: Job): boolean {
  return job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled';
}

/** While a job runs, Temporal knows best: its activity is scheduled (queued) or started (running). */
async function liveStatus(client: Client, handle: WorkflowHandle, job: Job): Promise<Live | null> {
  try {
    const { raw } = await handle.describe();
    const inference = raw.pendingActivities?.find((a) => a.activityType?.name === 'runInference');
    if (!inference) return null;
    const started = inference.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
    return {
      status: started ? 'running' : 'queued',
      attempt: inference.attempt ?? 1,
      workerId: started ? inference.lastWorkerIdentity || null : null,
      queueBacklog: started ? undefined : await queueBacklog(client, job),
    };
  } catch {
    return null;
  }
}

/** A queued job waits on its model's warm queue (all but the seconds it may spend on the cold one); that queue's backlog is its estimate. */
async function queueBacklog(client: Client, job: Job): Promise<number | undefined> {
  const res = await describeActivityQueue(client, modelQueue(job.model, 'warm', job.minTier), { reportStats: true });
  const count = res.stats?.approximateBacklogCount;
  return count === undefined || count === null ? undefined : Number(count);
}

function jobView(job: Job & { receipt: Receipt | null }, live: Live | null) {
  const finished = job.status === 'succeeded' || (job.status === 'cancelled' && job.completionTokens !== null && job.promptTokens !== null);
  return {
    id: job.id,
    object: 'job',
    model: job.model,
    status: live?.status ?? job.status,
    attempt: live?.attempt,
    queue_backlog: live?.queueBacklog,
    output: job.output,
    finish_reason: job.finishReason,
    error: job.error,
    usage: finished
      ? { prompt_tokens: job.promptTokens, completion_tokens: job.completionTokens, total_tokens: (job.promptTokens ?? 0) + (job.completionTokens ?? 0) }
      : null,
    timings: finished
      ? {
          queue_wait_ms: job.queueWaitMs,
          model_load_ms: job.modelLoadMs,
          time_to_first_token_ms: job.timeToFirstTokenMs,
          generation_ms: job.generationMs,
        }
      : null,
    min_tier: job.minTier,
    // Integer microcredits (1 credit = 1,000,000); null until the job is over.
    billing:
      job.chargeMicrocredits !== null ? { billable_ms: job.billableMs, charge_microcredits: Number(job.chargeMicrocredits) } : null,
    worker_id: live?.workerId ?? job.workerId,
    served_by: job.status === 'succeeded' ? (job.servedBy ?? 'network') : null,
    created_at: job.acceptedAt.toISOString(),
    finished_at: job.finishedAt?.toISOString() ?? null,
    receipt: (job.receipt?.document as unknown as SignedReceipt | undefined) ?? null,
    receipt_url: job.receipt ? `/v1/jobs/${job.id}/receipt` : null,
    receipt_cid: job.receipt?.cid ?? null,
    session_id: job.sessionId,
  };
}
