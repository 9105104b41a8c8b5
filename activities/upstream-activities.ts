/**
 * The cascade's upstream calls: one job sent to an OpenAI-compatible
 * provider or a peer pod's gateway, streamed back token by token. A peer
 * pod's answer counts only with its own signed receipt of the job, checked
 * with the peer's published key and kept in the content store by its CID. Runs on the orchestrator (it holds
 * the providers' API keys), built over its dependencies in
 * orchestrator/worker.ts. The provider is always asked to stream, so the
 * first token is timed and a streaming customer sees each piece as it comes
 * (gateway/job-streams.ts publishStreamChunk); the result comes back to the
 * workflow, which checks, bills and signs it.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { cidOfBytes, parseChatPrompt, receiptDocumentBytes, verifyReceipt, type InferenceTask, type SignedReceipt } from '@trd/protocol';
import { readApiKey, tierLabel, upstreamTier, type CascadeConfig } from '../cascade/config.js';
import { UpstreamErrors } from '../cascade/tiers.js';
import { PeerUnreachableError, fetchPeerJson, peerKeysFor } from '../federation/peers.js';
import { publishStreamChunk } from '../gateway/job-streams.js';
import type { Db } from '../platform/db.js';

/** The job as a runner would get it (model: the catalog key the customer asked for), sent to one tier instead. */
export interface UpstreamCall extends Pick<InferenceTask, 'jobId' | 'model' | 'prompt' | 'promptFormat' | 'maxTokens' | 'temperature' | 'topP' | 'seed' | 'stop'> {
  /** The tier's name in the model's cascade. */
  tier: string;
  /** A peer pod's tier; absent for a provider's. */
  kind?: 'pod';
  /** Pass the text to the job's stream as it comes (a streaming request). */
  stream: boolean;
}

export interface UpstreamResult {
  /** `provider:<name>` or `pod:<name>`. */
  servedBy: string;
  /** A peer pod's own receipt of the job, checked with its key (protocol/cid.ts); a pod's answers only. */
  peerReceiptCid?: string;
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

  /** Takes one of the tier's concurrency slots for this job (`key`: a provider's name, `pod:<name>`), or says it is full. */
  async function lease(key: string, limit: number, timeoutMs: number, jobId: string): Promise<boolean> {
    const expiresAt = new Date(Date.now() + timeoutMs * 2);
    return db.$transaction(async (tx) => {
      // One tier's leases are counted and taken one orchestrator at a time.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`upstream:${key}`}))`;
      await tx.upstreamLease.deleteMany({ where: { provider: key, expiresAt: { lt: new Date() } } });
      const held = await tx.upstreamLease.count({ where: { provider: key, NOT: { jobId } } });
      if (held >= limit) return false;
      await tx.upstreamLease.upsert({ where: { provider_jobId: { provider: key, jobId } }, create: { provider: key, jobId, expiresAt }, update: { expiresAt } });
      return true;
    });
  }

  return {
    async callUpstream(call: UpstreamCall): Promise<UpstreamResult> {
      const kind = call.kind ?? 'provider';
      const tier = upstreamTier(deps.cascade, call.model, call.tier, kind);
      if (!tier) throw ApplicationFailure.nonRetryable(`no ${kind} "${call.tier}" in this orchestrator's cascade for ${call.model}`, UpstreamErrors.NotConfigured);
      let apiKey: string | null;
      try {
        apiKey = readApiKey(tier, deps.env ?? process.env);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, UpstreamErrors.NotConfigured);
      }
      const peer = tier.kind === 'pod' ? await db.peer.findUnique({ where: { name: tier.name } }) : null;
      if (tier.kind === 'pod' && (!peer || peer.revokedAt)) {
        throw ApplicationFailure.nonRetryable(`pod ${tier.name} is not an active peer of this pod (GET /v1/operator/peers)`, UpstreamErrors.NotConfigured);
      }
      const target: Target = { name: tier.name, label: tierLabel(tier), who: `${tier.kind} ${tier.name}`, baseUrl: peer ? `${peer.baseUrl}/v1` : (tier as { baseUrl: string }).baseUrl, model: tier.model, timeoutMs: tier.timeoutMs };
      const leaseKey = peer ? target.label : tier.name;
      if (!(await lease(leaseKey, tier.concurrency, tier.timeoutMs, call.jobId))) {
        throw ApplicationFailure.nonRetryable(`${target.who} is at its concurrency limit (${tier.concurrency})`, UpstreamErrors.Busy);
      }
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), heartbeatMs);
      try {
        const { result, upstreamJobId } = await request(db, target, apiKey, call, AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(tier.timeoutMs)]), () => ctx.heartbeat());
        if (!peer) return result;
        return { ...result, peerReceiptCid: await checkedPeerReceipt(db, peer, target, upstreamJobId, result) };
      } finally {
        clearInterval(beat);
        await db.upstreamLease.deleteMany({ where: { provider: leaseKey, jobId: call.jobId } }).catch(() => {});
      }
    },
  };
}

/** Where one call goes: a provider's base URL, or a peer pod's gateway (`<base>/v1`). */
interface Target {
  name: string;
  /** `provider:<name>` or `pod:<name>`. */
  label: string;
  /** `provider <name>` or `pod <name>`, as messages say it. */
  who: string;
  baseUrl: string;
  /** The upstream's name for the model. */
  model: string;
  timeoutMs: number;
}

/**
 * The peer pod's receipt of the job it ran for us, fetched from its gateway and checked with its
 * published key against the answer we got: its job, model, token counts and output hash. Kept in
 * the content store by its CID (our /ipfs serves it too), which our receipt names.
 */
async function checkedPeerReceipt(db: Db, peer: { name: string; baseUrl: string; keys: unknown }, target: Target, upstreamJobId: string | null, r: UpstreamResult): Promise<string> {
  const refuse = (why: string) => ApplicationFailure.nonRetryable(`${target.who}: ${why}`, UpstreamErrors.BadPeerReceipt);
  if (!upstreamJobId || !/^job_[0-9a-f]{32}$/.test(upstreamJobId)) throw refuse('its answer names no job (trd_job_id), so it has no receipt to check');
  let doc: SignedReceipt;
  let keys: Map<string, Uint8Array>;
  try {
    const got = await fetchPeerJson(`${peer.baseUrl}/v1/receipts/${upstreamJobId}`, target.timeoutMs);
    if (got.status !== 200) throw refuse(`its receipt of ${upstreamJobId} is not served (${got.status})`);
    doc = got.body as SignedReceipt;
    keys = await peerKeysFor(db, peer, String(doc?.envelope?.kid ?? ''), target.timeoutMs);
  } catch (err) {
    if (err instanceof PeerUnreachableError) throw ApplicationFailure.retryable(`${target.who}: ${err.message}`, UpstreamErrors.Unavailable);
    throw err;
  }
  const key = keys.get(String(doc?.envelope?.kid ?? ''));
  if (!key) throw refuse(`its receipt is signed with ${JSON.stringify(doc?.envelope?.kid)}, not one of the keys it publishes`);
  const check = await verifyReceipt(doc, key);
  if (!check.ok) throw refuse(`its receipt does not verify: ${check.reason}`);
  const e = doc.envelope;
  const outputSha256 = createHash('sha256').update(r.text).digest('hex');
  const mismatch =
    e.job_id !== upstreamJobId ? `is of job ${e.job_id}, not ${upstreamJobId}`
    : e.model !== target.model ? `is for model ${e.model}, not ${target.model}`
    : e.output_sha256 !== outputSha256 ? 'hashes another output than the one it sent'
    : e.completion_tokens !== r.completionTokens || e.prompt_tokens !== r.promptTokens ? `counts ${e.prompt_tokens}+${e.completion_tokens} tokens, its answer ${r.promptTokens}+${r.completionTokens}`
    : null;
  if (mismatch) throw refuse(`its receipt ${mismatch}`);
  const bytes = receiptDocumentBytes(doc);
  const cid = await cidOfBytes(bytes);
  await db.contentBlock.upsert({ where: { cid }, create: { cid, bytes: new Uint8Array(bytes) }, update: {} });
  return cid;
}

export type UpstreamActivities = ReturnType<typeof createUpstreamActivities>;

async function request(db: Db, tier: Target, apiKey: string | null, call: UpstreamCall, signal: AbortSignal, beat: () => void): Promise<{ result: UpstreamResult; upstreamJobId: string | null }> {
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
    const message = `${tier.who} answered ${res.status}${detail ? `: ${detail}` : ''}`;
    // Too many requests, a timeout or a server error may pass; any other refusal is the same on a retry.
    if (res.status === 429 || res.status === 408 || res.status >= 500) throw ApplicationFailure.retryable(message, UpstreamErrors.Unavailable);
    throw ApplicationFailure.nonRetryable(message, UpstreamErrors.Refused);
  }
  let text = '';
  let firstTokenAt: number | null = null;
  let finish: string | null = null;
  let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | null = null;
  let answeredModel: string | null = null;
  // A peer pod's gateway names its own job (whose receipt it signed); a provider's answer has none.
  let upstreamJobId: string | null = null;
  try {
    for await (const data of serverSentEvents(res.body!)) {
      beat();
      if (data === '[DONE]') break;
      let event: any;
      try {
        event = JSON.parse(data);
      } catch {
        throw ApplicationFailure.nonRetryable(`${tier.who} sent an event that is not JSON`, UpstreamErrors.BadAnswer);
      }
      if (event?.error) throw ApplicationFailure.retryable(`${tier.who} failed mid-answer: ${JSON.stringify(event.error).slice(0, 300)}`, UpstreamErrors.Unavailable);
      if (typeof event?.model === 'string') answeredModel = event.model;
      if (typeof event?.trd_job_id === 'string') upstreamJobId = event.trd_job_id;
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
    throw ApplicationFailure.nonRetryable(`${tier.who} did not report token usage`, UpstreamErrors.BadAnswer);
  }
  const ttft = (firstTokenAt ?? finished) - started;
  const result: UpstreamResult = {
    servedBy: tier.label,
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
  return { result, upstreamJobId };
}

function unavailable(tier: Target, signal: AbortSignal, err: unknown): ApplicationFailure {
  const reason = signal.aborted ? (signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? `no answer within ${tier.timeoutMs} ms` : 'cancelled') : (err as Error).message;
  return ApplicationFailure.retryable(`${tier.who}: ${reason}`, UpstreamErrors.Unavailable);
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
