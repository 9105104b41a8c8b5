/**
 * The cascade's upstream calls: one job sent to an OpenAI-compatible
 * provider, streamed back token by token. Runs on the orchestrator (it holds
 * the providers' API keys), built over its dependencies in
 * orchestrator/worker.ts. The provider is always asked to stream, so the
 * first token is timed and a streaming customer sees each piece as it comes
 * (gateway/job-streams.ts publishStreamChunk); the result comes back to the
 * workflow, which checks, bills and signs it.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { parseChatPrompt, type InferenceTask } from '@trd/protocol';
import { providerTier, readApiKey, tierLabel, type CascadeConfig, type ProviderTier } from '../cascade/config.js';
import { UpstreamErrors } from '../cascade/tiers.js';
import { publishStreamChunk } from '../gateway/job-streams.js';
import type { Db } from '../platform/db.js';

/** The job as a runner would get it (model: the catalog key the customer asked for), sent to one tier instead. */
export interface UpstreamCall extends Pick<InferenceTask, 'jobId' | 'model' | 'prompt' | 'promptFormat' | 'maxTokens' | 'temperature' | 'topP' | 'seed' | 'stop'> {
  /** The tier's name in the model's cascade. */
  tier: string;
  /** Pass the text to the job's stream as it comes (a streaming request). */
  stream: boolean;
}

export interface UpstreamResult {
  /** `provider:<name>`. */
  servedBy: string;
  /** The provider's name for the model (from its answer, else the configured one). */
  upstreamModel: string;
  model: string;
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'length' | 'stop';
  /** ISO 8601 UTC on the orchestrator's clock: the request sent, the last token received. */
  startedAt: string;
  finishedAt: string;
  timings: { modelLoadMs: 0; timeToFirstTokenMs: number; generationMs: number };
}

export interface UpstreamDeps {
  db: Db;
  cascade: CascadeConfig;
  env?: Record<string, string | undefined>;
  /** How often a call heartbeats while it waits on the provider (cancellation rides on heartbeats). */
  heartbeatMs?: number;
}

export function createUpstreamActivities(deps: UpstreamDeps) {
  const { db } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 500;

  /** Takes one of the provider's concurrency slots for this job, or says it is full. */
  async function lease(tier: ProviderTier, jobId: string): Promise<boolean> {
    const expiresAt = new Date(Date.now() + tier.timeoutMs * 2);
    return db.$transaction(async (tx) => {
      // One provider's leases are counted and taken one orchestrator at a time.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`upstream:${tier.name}`}))`;
      await tx.upstreamLease.deleteMany({ where: { provider: tier.name, expiresAt: { lt: new Date() } } });
      const held = await tx.upstreamLease.count({ where: { provider: tier.name, NOT: { jobId } } });
      if (held >= tier.concurrency) return false;
      await tx.upstreamLease.upsert({ where: { provider_jobId: { provider: tier.name, jobId } }, create: { provider: tier.name, jobId, expiresAt }, update: { expiresAt } });
      return true;
    });
  }

  return {
    async callUpstream(call: UpstreamCall): Promise<UpstreamResult> {
      const tier = providerTier(deps.cascade, call.model, call.tier);
      if (!tier) throw ApplicationFailure.nonRetryable(`no provider "${call.tier}" in this orchestrator's cascade for ${call.model}`, UpstreamErrors.NotConfigured);
      let apiKey: string | null;
      try {
        apiKey = readApiKey(tier, deps.env ?? process.env);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, UpstreamErrors.NotConfigured);
      }
      if (!(await lease(tier, call.jobId))) {
        throw ApplicationFailure.nonRetryable(`provider ${tier.name} is at its concurrency limit (${tier.concurrency})`, UpstreamErrors.Busy);
      }
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), heartbeatMs);
      try {
        return await request(db, tier, apiKey, call, AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(tier.timeoutMs)]), () => ctx.heartbeat());
      } finally {
        clearInterval(beat);
        await db.upstreamLease.deleteMany({ where: { provider: tier.name, jobId: call.jobId } }).catch(() => {});
      }
    },
  };
}

export type UpstreamActivities = ReturnType<typeof createUpstreamActivities>;

async function request(db: Db, tier: ProviderTier, apiKey: string | null, call: UpstreamCall, signal: AbortSignal, beat: () => void): Promise<UpstreamResult> {
  const chat = call.promptFormat === 'chat';
  const body = {
    model: tier.model,
    ...(chat ? { messages: parseChatPrompt(call.prompt) } : { prompt: call.prompt }),
    max_tokens: call.maxTokens,
    temperature: call.temperature,
    ...(call.topP !== undefined ? { top_p: call.topP } : {}),
    ...(call.seed !== undefined ? { seed: call.seed } : {}),
    ...(call.stop ? { stop: call.stop } : {}),
    stream: true,
    stream_options: { include_usage: true },
  };
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(`${tier.baseUrl}/${chat ? 'chat/completions' : 'completions'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    throw unavailable(tier, signal, err);
  }
  if (!res.ok) {
    const detail = (await res.text().catch(() => '')).slice(0, 300);
    const message = `provider ${tier.name} answered ${res.status}${detail ? `: ${detail}` : ''}`;
    // Too many requests, a timeout or a server error may pass; any other refusal is the same on a retry.
    if (res.status === 429 || res.status === 408 || res.status >= 500) throw ApplicationFailure.retryable(message, UpstreamErrors.Unavailable);
    throw ApplicationFailure.nonRetryable(message, UpstreamErrors.Refused);
  }
  let text = '';
  let firstTokenAt: number | null = null;
  let finish: string | null = null;
  let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | null = null;
  let answeredModel: string | null = null;
  try {
    for await (const data of serverSentEvents(res.body!)) {
      beat();
      if (data === '[DONE]') break;
      let event: any;
      try {
        event = JSON.parse(data);
      } catch {
        throw ApplicationFailure.nonRetryable(`provider ${tier.name} sent an event that is not JSON`, UpstreamErrors.BadAnswer);
      }
      if (event?.error) throw ApplicationFailure.retryable(`provider ${tier.name} failed mid-answer: ${JSON.stringify(event.error).slice(0, 300)}`, UpstreamErrors.Unavailable);
      if (typeof event?.model === 'string') answeredModel = event.model;
      if (event?.usage) usage = event.usage;
      const choice = event?.choices?.[0];
      const piece = chat ? choice?.delta?.content : choice?.text;
      if (typeof piece === 'string' && piece) {
        firstTokenAt ??= Date.now();
        if (call.stream) await publishStreamChunk(db, call.jobId, { offset: text.length, text: piece, at: Date.now() });
        text += piece;
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw unavailable(tier, signal, err);
  }
  const finished = Date.now();
  const promptTokens = usage?.prompt_tokens;
  const completionTokens = usage?.completion_tokens;
  if (!Number.isSafeInteger(promptTokens) || !Number.isSafeInteger(completionTokens)) {
    // Its price is per token, and it would be our word against nobody's.
    throw ApplicationFailure.nonRetryable(`provider ${tier.name} did not report token usage`, UpstreamErrors.BadAnswer);
  }
  const ttft = (firstTokenAt ?? finished) - started;
  return {
    servedBy: tierLabel(tier),
    upstreamModel: answeredModel ?? tier.model,
    model: call.model,
    text,
    promptTokens: promptTokens as number,
    completionTokens: completionTokens as number,
    finishReason: finish === 'length' ? 'length' : 'stop',
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    timings: { modelLoadMs: 0, timeToFirstTokenMs: ttft, generationMs: finished - started - ttft },
  };
}

function unavailable(tier: ProviderTier, signal: AbortSignal, err: unknown): ApplicationFailure {
  const reason = signal.aborted ? (signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? `no answer within ${tier.timeoutMs} ms` : 'cancelled') : (err as Error).message;
  return ApplicationFailure.retryable(`provider ${tier.name}: ${reason}`, UpstreamErrors.Unavailable);
}

/** The `data:` payloads of a Server-Sent Events body, one per event. */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true }).replace(/\r\n/g, '\n');
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) yield data;
    }
  }
}
