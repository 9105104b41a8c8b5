/**
 * Accepting a job, for every API that takes one (the jobs API and the
 * OpenAI-compatible routes): record it, then start its workflow. A start that
 * never reached Temporal leaves a job marked as never scheduled, and a 503.
 */
import { createHash } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ORCHESTRATOR_QUEUE, SESSION_ID_PATTERN, base64ToBytes, findModel, proofPublicKeyProblem, newJobId, workflowIdForJob, type CatalogModel, type InferenceTask, type TrustTier } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import type { JobInput, inferenceJob } from '../workflows/inference-job.js';
import { reservationMicrocredits } from '../economy/billing.js';
import { upstreamTiersFor } from '../cascade/config.js';
import { networkShareBps, throughNetwork } from '../cascade/share.js';
import { admitAndRecord } from './admission.js';
import type { AgentRunRecord } from './agents.js';
import { ApiError } from './errors.js';
import { hashToken } from './tokens.js';
import type { GatewaySettings } from './settings.js';

/** What the runner gets (a catalog key the caller has checked, the prompt, sampling), and who pays and who may run it. */
export type JobRequest = Omit<InferenceTask, 'jobId'> & {
  /** Set by a caller that must know the id before the job exists (a streaming request opens its stream first). */
  jobId?: string;
  customerId: string;
  /** The key that sent it: its rate limit applies, and the job records it. */
  apiKeyId?: string;
  minTier: TrustTier;
  /** The session whose receipt chain the job's receipt joins. */
  sessionId?: string;
  /** `upstream`: straight to the model's upstream tiers (the cascade), skipping the network. */
  route?: 'auto' | 'upstream';
  /** The request's headers, for front-of-chain share rules that match one (cascade/share.ts). */
  header?: (name: string) => string | undefined;
  /** The published agent version it runs (gateway/agents.ts), recorded with the job. */
  agent?: AgentRunRecord;
  /** Proof of work asked for: the customer's X25519 public key (base64 of its 32 bytes), checked by the schema. */
  proofKey?: string;
};

/**
 * A session belongs to the customer who first used its id; another
 * customer's job cannot join (or read the certificate of) that chain.
 */
export async function claimSession(db: Db, sessionId: string, customerId: string, param: string): Promise<void> {
  if (!SESSION_ID_PATTERN.test(sessionId)) {
    throw new ApiError(400, 'invalid_request', `${param}: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128`, param);
  }
  await db.jobSession.createMany({ data: [{ id: sessionId, customerId }], skipDuplicates: true });
  const session = await db.jobSession.findUnique({ where: { id: sessionId }, select: { customerId: true } });
  if (session?.customerId !== customerId) {
    throw new ApiError(409, 'session_taken', `${param}: session "${sessionId}" belongs to another account; choose another id`, param);
  }
}

/** The catalog model a request names, or a 404 that says where the list is. */
export function catalogModel(key: string): CatalogModel {
  const model = findModel(key);
  if (!model) throw new ApiError(404, 'model_not_found', `model "${key}" is not in the catalog (GET /v1/models lists them)`, 'model');
  return model;
}

/** A job's size within the model's and the gateway's limits, or the 4xx naming the field (`promptParam`) at fault. */
export function checkJobSize(model: CatalogModel, maxTokens: number, prompt: string, promptParam: string, maxPromptBytes: number): void {
  if (maxTokens > model.maxOutputTokens) throw new ApiError(400, 'invalid_request', `max_tokens: at most ${model.maxOutputTokens} for ${model.key}`, 'max_tokens');
  const promptBytes = Buffer.byteLength(prompt, 'utf8');
  if (promptBytes > maxPromptBytes) throw new ApiError(413, 'prompt_too_large', `${promptParam} is ${promptBytes} bytes; the limit is ${maxPromptBytes}`, promptParam);
}

export async function acceptJob(deps: { db: Db; temporal: Client; settings: GatewaySettings }, r: JobRequest): Promise<{ jobId: string; handle: WorkflowHandle }> {
  const { db, temporal: client, settings } = deps;
  const model = findModel(r.model)!;
  const upstream = upstreamTiersFor(settings.cascade, model.key);
  if (r.route === 'upstream' && upstream.length === 0) {
    throw new ApiError(400, 'no_upstream_tier', `trd_route: ${model.key} has no upstream tier on this platform; use "auto"`, 'trd_route');
  }
  if (r.proofKey) {
    // The schema read the key; whether it is a point a secret can be agreed with takes a trial.
    const problem = await proofPublicKeyProblem(base64ToBytes(r.proofKey));
    if (problem) throw new ApiError(400, 'invalid_request', `trd_proof.public_key ${problem}`, 'trd_proof.public_key');
  }
  const jobId = r.jobId ?? newJobId();
  // Front-of-chain share: of a matching class, only its share goes through the network first.
  const share = upstream.length ? networkShareBps(settings.cascade, { apiKeyId: r.apiKeyId, customerId: r.customerId, header: r.header ?? (() => undefined) }) : null;
  const straightUp = r.route === 'upstream' || (share !== null && !throughNetwork(jobId, share));
  const acceptedAt = new Date();
  const promptSha256 = createHash('sha256').update(r.prompt).digest('hex');
  if (r.sessionId) await claimSession(db, r.sessionId, r.customerId, 'session_id');
  const reserved = reservationMicrocredits(r.maxTokens, model.creditsPerHour, settings.reservation);
  const admission = { customerId: r.customerId, apiKeyId: r.apiKeyId, reserveMicrocredits: reserved, now: acceptedAt };
  type Tx = Parameters<Parameters<typeof admitAndRecord>[2]>[0];
  const withAgent = async (tx: Tx, agent: AgentRunRecord) => {
    await recordJob(tx);
    await tx.agentRun.create({ data: { jobId, ...agent } });
  };
  // A job and the agent it runs are written together (admission passes the client itself when there is nothing to check).
  const record = (tx: Tx) => (!r.agent ? recordJob(tx) : '$transaction' in tx ? (tx as Db).$transaction((t) => withAgent(t, r.agent!)) : withAgent(tx, r.agent));
  const recordJob = (tx: Tx) =>
    tx.job.create({
      data: {
        id: jobId,
        customerId: r.customerId,
        apiKeyId: r.apiKeyId,
        model: model.key,
        promptSha256,
        maxTokens: r.maxTokens,
        temperature: r.temperature,
        seed: r.seed,
        minTier: r.minTier,
        status: 'queued',
        acceptedAt,
        reservedMicrocredits: reserved,
        sessionId: r.sessionId,
        streamTokenHash: r.streamToken ? Buffer.from(hashToken(r.streamToken), 'hex') : null,
      },
    });
  await admitAndRecord(db, admission, record, settings.admissionWaitMs);
  const input: JobInput = {
    jobId,
    customerId: r.customerId,
    model: model.key,
    prompt: r.prompt,
    promptSha256,
    maxTokens: r.maxTokens,
    temperature: r.temperature,
    seed: r.seed,
    minTier: r.minTier,
    creditsPerHour: model.creditsPerHour,
    acceptedAt: acceptedAt.toISOString(),
    limits: settings.jobLimits,
    // Only what was asked for, so a plain job's input (and history) stays as it was.
    ...(r.promptFormat === 'chat' ? { promptFormat: r.promptFormat } : {}),
    ...(r.topP !== undefined ? { topP: r.topP } : {}),
    ...(r.stop?.length ? { stop: r.stop } : {}),
    ...(r.streamToken ? { streamToken: r.streamToken } : {}),
    ...(r.sessionId ? { sessionId: r.sessionId } : {}),
    // Only with a cascade, so a network-only job's input (and history) stays as it was.
    ...(upstream.length ? { upstream } : {}),
    ...(straightUp ? { upstreamFirst: true } : {}),
    ...(r.proofKey ? { proof: { publicKey: r.proofKey } } : {}),
  };
  const handle = client.workflow.getHandle(workflowIdForJob(jobId));
  try {
    // The client retries an unreachable server for a long time; a customer should hear "retry" sooner.
    await client.withDeadline(Date.now() + settings.startTimeoutMs, () =>
      client.workflow.start<typeof inferenceJob>('inferenceJob', {
        taskQueue: ORCHESTRATOR_QUEUE,
        workflowId: handle.workflowId,
        args: [input],
      }),
    );
  } catch (err) {
    // The start may have reached Temporal even though its answer did not reach us.
    if (!(await client.withDeadline(Date.now() + settings.startTimeoutMs, () => workflowExists(handle)))) {
      // Never accepted: say so, and leave no job that looks alive.
      await db.job.update({ where: { id: jobId }, data: { status: 'failed', error: 'could not be scheduled', finishedAt: new Date() } });
      console.error(`gateway: starting workflow for ${jobId} failed:`, err);
      throw new ApiError(503, 'scheduler_unavailable', 'the job could not be scheduled; nothing was charged, please retry');
    }
  }
  return { jobId, handle };
}

async function workflowExists(handle: WorkflowHandle): Promise<boolean> {
  try {
    await handle.describe();
    return true;
  } catch {
    return false;
  }
}

/** Waits up to `ms` for the workflow to close; a timeout is the normal outcome of a long poll. */
export async function waitForWorkflow(client: Client, handle: WorkflowHandle, ms: number): Promise<void> {
  try {
    await client.withDeadline(Date.now() + ms, () => handle.result());
  } catch {
    // Deadline passed or the workflow failed; the database row says which.
  }
}
