/**
 * OpenAI's wire format, so existing clients work unchanged: chat completions
 * and completions, plain or streamed as Server-Sent Events. Each request is a
 * job like any other (same workflow, billing and receipt); its id is in the
 * `x-trd-job-id` header and `trd_*` fields, which OpenAI clients ignore.
 */
import { Router, type Response } from 'express';
import { randomInt } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { MAX_SEED, agentChatPrompt, canonicalize, newJobId, type CatalogModel, type StreamChunk } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import type { Job, Receipt } from '../generated/prisma/client.js';
import { jsonBody } from './json-body.js';
import { agentForModel, agentRunOf, type AgentRunRecord, type PublishedAgent } from './agents.js';
import { checkAgentInput } from './agent-input.js';
import { acceptJob, catalogModel, checkJobSize, waitForWorkflow, type JobRequest } from './accept-job.js';
import { ApiError, errorBody } from './errors.js';
import { isDraining } from './draining.js';
import type { JobStreams } from './job-streams.js';
import { ChatCompletionBody, CompletionBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';

type Deps = { db: Db; temporal: Client; settings: GatewaySettings; streams: JobStreams };
type Kind = 'chat' | 'text';
type FinishedJob = Job & { receipt: Receipt | null };

/** OpenAI's request bodies have no field for a session; every OpenAI client can add a header. */
export const SESSION_HEADER = 'X-TRD-Session-Id';

export function openAiRouter(deps: Deps): Router {
  const router = Router();

  router.post('/v1/chat/completions', async (req, res) => {
    const body = ChatCompletionBody.parse(jsonBody(req));
    // `agent:<slug>`: the published agent's model, system prompt and parameters (gateway/agents.ts).
    const agent = await agentForModel(deps.db, body.model);
    const model = catalogModel(agent?.manifest.model ?? body.model);
    const messages = body.messages.map((m) => ({ role: m.role === 'developer' ? ('system' as const) : m.role, content: textOf(m.content) }));
    if (agent) checkAgentInput(agent, messages);
    // Canonical JSON: the receipt's prompt hash is over exactly these bytes.
    const prompt = canonicalize(agent ? agentChatPrompt(agent.manifest, messages) : messages);
    const input = { prompt, promptFormat: 'chat' as const, sessionId: req.get(SESSION_HEADER), header: (n: string) => req.get(n) };
    if (agent) await serve(deps, res, 'chat', model, agentSampling(agent, body, model), { ...input, agent: agentRunOf(agent) });
    else await serve(deps, res, 'chat', model, body, input);
  });

  router.post('/v1/completions', async (req, res) => {
    const body = CompletionBody.parse(jsonBody(req));
    if (await agentForModel(deps.db, body.model)) {
      // An agent's system prompt and input are chat messages: a bare text prompt has no place for them (as OpenAI answers a chat model here).
      throw new ApiError(400, 'agent_chat_only', `${body.model} is an agent and runs through /v1/chat/completions, not /v1/completions`, 'model');
    }
    const model = catalogModel(body.model);
    const prompt = Array.isArray(body.prompt) ? body.prompt[0]! : body.prompt;
    await serve(deps, res, 'text', model, body, { prompt, sessionId: req.get(SESSION_HEADER), header: (n) => req.get(n) });
  });

  return router;
}

function textOf(content: string | Array<{ type: 'text'; text: string }>): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

interface Sampling {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[] | null;
  stream: boolean;
  stream_options?: { include_usage?: boolean } | null;
  min_tier: JobRequest['minTier'];
  trd_route: 'auto' | 'upstream';
  trd_proof?: { public_key: string };
}

/** An agent runs with its own parameters; the caller may only ask for fewer tokens. */
function agentSampling(agent: PublishedAgent, body: Sampling, model: CatalogModel): Sampling {
  const p = agent.manifest.parameters;
  const asked = body.max_completion_tokens ?? body.max_tokens;
  return { ...body, max_tokens: Math.min(asked ?? p.max_tokens, p.max_tokens, model.maxOutputTokens), max_completion_tokens: undefined, temperature: p.temperature, top_p: undefined, stop: p.stop.length ? p.stop : undefined };
}

async function serve(deps: Deps, res: Response, kind: Kind, model: CatalogModel, body: Sampling, input: { prompt: string; promptFormat?: 'chat'; sessionId?: string; agent?: AgentRunRecord; header: (name: string) => string | undefined }): Promise<void> {
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? (kind === 'text' ? 16 : model.maxOutputTokens);
  checkJobSize(model, maxTokens, input.prompt, kind === 'chat' ? 'messages' : 'prompt', deps.settings.maxPromptBytes);
  const request: JobRequest = {
    customerId: res.locals.customerId as string,
    apiKeyId: res.locals.apiKeyId as string,
    model: model.key,
    ...input,
    maxTokens,
    temperature: body.temperature,
    topP: body.top_p === undefined || body.top_p === 1 ? undefined : body.top_p,
    // A streamed job picks its seed now, so a retry on another runner reproduces the text already sent.
    seed: body.seed ?? (body.stream && body.temperature > 0 ? randomInt(MAX_SEED + 1) : undefined),
    stop: body.stop == null ? undefined : typeof body.stop === 'string' ? [body.stop] : body.stop,
    minTier: body.min_tier,
    route: body.trd_route,
    ...(body.trd_proof ? { proofKey: body.trd_proof.public_key } : {}),
  };
  if (body.stream) await stream(deps, res, kind, request, body.stream_options?.include_usage === true);
  else await complete(deps, res, kind, request);
}

/** The job's answer in one response; a client that hangs up cancels the job. */
async function complete(deps: Deps, res: Response, kind: Kind, request: JobRequest): Promise<void> {
  const { jobId, handle } = await acceptJob(deps, request);
  const stopOnHangUp = cancelOnHangUp(res, handle);
  await waitForWorkflow(deps.temporal, handle, deps.settings.jobLimits.deadlineMs + deps.settings.http.resultGraceMs);
  stopOnHangUp();
  if (res.destroyed) return;
  const job = await findFinishedJob(deps.db, jobId);
  res.set({ ...trdHeaders(jobId), 'x-trd-served-by': servedBy(job) });
  if (job.status !== 'succeeded') throw jobError(job);
  const finish = job.finishReason as 'stop' | 'length';
  const choice =
    kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: job.output, refusal: null }, logprobs: null, finish_reason: finish }
      : { index: 0, text: job.output, logprobs: null, finish_reason: finish };
  res.json({
    id: responseId(kind, jobId),
    object: kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: epochSeconds(job.acceptedAt),
    model: job.model,
    choices: [choice],
    usage: usageOf(job),
    trd_job_id: jobId,
    trd_served_by: servedBy(job),
    trd_receipt: job.receipt?.document ?? null,
  });
}

/**
 * Server-Sent Events in OpenAI's chunk format. Text comes from the runner's
 * push as it is generated; whatever the push missed (a runner without one, a
 * lost connection) comes from the job's result before the last chunk.
 */
async function stream(deps: Deps, res: Response, kind: Kind, request: JobRequest, includeUsage: boolean): Promise<void> {
  const jobId = newJobId();
  const created = epochSeconds(new Date());
  const id = responseId(kind, jobId);
  const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  let sent = '';
  const event = (data: unknown) => {
    if (!res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  };
  const chunk = (text: string | null, finish: string | null = null, extra: object = {}) =>
    event({
      id,
      object,
      created,
      model: request.model,
      choices: [
        kind === 'chat'
          ? { index: 0, delta: text === null ? {} : { content: text }, logprobs: null, finish_reason: finish }
          : { index: 0, text: text ?? '', logprobs: null, finish_reason: finish },
      ],
      ...extra,
    });
  const sendText = (text: string, generatedAt?: number) => {
    if (!text) return;
    sent += text;
    chunk(text, null, generatedAt === undefined ? {} : { trd_generated_at: generatedAt });
  };
  const live = await deps.streams.openStream(jobId, (c: StreamChunk) => {
    // A retried attempt starts again at offset 0: only text past what was already sent is new.
    if (c.offset <= sent.length && c.offset + c.text.length > sent.length) sendText(c.text.slice(sent.length - c.offset), Number.isFinite(c.at) ? c.at : undefined);
  });
  let handle: WorkflowHandle;
  try {
    ({ handle } = await acceptJob(deps, { ...request, jobId, streamToken: live.token }));
  } catch (err) {
    live.close();
    throw err;
  }
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Tells a proxy in front (nginx) not to hold the events back.
    'x-accel-buffering': 'no',
    ...trdHeaders(jobId),
  });
  res.flushHeaders();
  if (kind === 'chat') event({ id, object, created, model: request.model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
  const stopOnHangUp = cancelOnHangUp(res, handle);
  // A comment line now and then while the job waits in a queue: a balancer's idle timeout never cuts the stream.
  const keepAlive = deps.settings.http.streamKeepAliveMs > 0 ? setInterval(() => !res.destroyed && res.write(': keep-alive\n\n'), deps.settings.http.streamKeepAliveMs) : null;
  try {
    await waitForWorkflow(deps.temporal, handle, deps.settings.jobLimits.deadlineMs + deps.settings.http.resultGraceMs);
  } finally {
    if (keepAlive) clearInterval(keepAlive);
    live.close();
    stopOnHangUp();
  }
  if (res.destroyed) return;
  const job = await findFinishedJob(deps.db, jobId);
  if (job.status !== 'succeeded') {
    // Headers are gone: an error mid-stream is an event, as OpenAI sends it.
    event(errorBody(jobError(job)));
    res.end();
    return;
  }
  const output = job.output ?? '';
  if (output.startsWith(sent)) sendText(output.slice(sent.length));
  else console.error(`gateway: job ${jobId} streamed text its result does not start with (${sent.length} chars sent)`);
  chunk(null, job.finishReason, { trd_job_id: jobId, trd_served_by: servedBy(job), trd_receipt_url: `/v1/jobs/${jobId}/receipt` });
  if (includeUsage) event({ id, object, created, model: request.model, choices: [], usage: usageOf(job) });
  event('[DONE]');
  res.end();
}

/** `network`, or the upstream tier that served the job (the cascade). */
export function servedBy(job: Pick<Job, 'servedBy'>): string {
  return job.servedBy ?? 'network';
}

function findFinishedJob(db: Db, id: string): Promise<FinishedJob> {
  return db.job.findUniqueOrThrow({ where: { id }, include: { receipt: true } });
}

/** Calls `handle.cancel()` if the client goes away before the response is complete; returns the un-registration. */
function cancelOnHangUp(res: Response, handle: WorkflowHandle): () => void {
  const onClose = () => {
    // A gateway shutting down cuts its connections: that is no customer's hang-up, and the job goes on.
    if (!res.writableFinished && !isDraining(res.app)) void handle.cancel().catch(() => {});
  };
  res.once('close', onClose);
  return () => res.off('close', onClose);
}

function jobError(job: Job): ApiError {
  if (job.status === 'cancelled') return new ApiError(499, 'job_cancelled', 'the job was cancelled before it finished');
  if (job.status === 'failed') return new ApiError(502, 'job_failed', `the job failed: ${job.error ?? 'unknown reason'}`);
  return new ApiError(504, 'job_timeout', `the job did not finish in time; follow it at /v1/jobs/${job.id}`);
}

function usageOf(job: Job) {
  const prompt = job.promptTokens ?? 0;
  const completion = job.completionTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function responseId(kind: Kind, jobId: string): string {
  return `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${jobId}`;
}

function trdHeaders(jobId: string): Record<string, string> {
  return { 'x-trd-job-id': jobId, 'x-trd-receipt-url': `/v1/jobs/${jobId}/receipt` };
}

const epochSeconds = (d: Date) => Math.floor(d.getTime() / 1000);
