/**
 * The runner endpoint: an authorizing gRPC proxy in front of Temporal's
 * frontend. Runners connect here over TLS with their runner token as
 * `authorization: Bearer` metadata; each call is read, checked against what
 * an activity worker needs and what the token's runner is entitled to
 * (policy.ts), and only then forwarded. On the way through, task payloads
 * are opened for the runner that polled them and its results sealed before
 * they reach Temporal's history, so runners hold no key and see only their
 * own tasks. Calls in flight are cut when the runner's token is revoked or
 * the runner is shadowbanned.
 */
import http2, { type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import proto from '@temporalio/proto';
import type { Db } from '../platform/db.js';
import { decryptPayload, encryptPayload, isEncrypted, type PayloadKeys } from '../platform/payload-encryption.js';
import { hashToken } from '../platform/tokens.js';
import { EntitlementStore } from './entitlements.js';
import { GrpcError, GrpcStatus, encodeGrpcMessage, frame, unframe, type GrpcStatusCode } from './grpc-wire.js';
import { mapPayloads } from './payload-walk.js';
import { queueProblem, ruleFor, type Entitlement } from './policy.js';
import { openTaskToken, sealTaskToken } from './task-binding.js';

const ws = proto.temporal.api.workflowservice.v1;

/** Request and response message types of the calls that pass, by method name. */
const MESSAGES: Record<string, { req: { decode(b: Uint8Array): any; encode(m: any): { finish(): Uint8Array } }; res: { decode(b: Uint8Array): any; encode(m: any): { finish(): Uint8Array } } }> = {
  GetSystemInfo: { req: ws.GetSystemInfoRequest, res: ws.GetSystemInfoResponse },
  DescribeNamespace: { req: ws.DescribeNamespaceRequest, res: ws.DescribeNamespaceResponse },
  PollActivityTaskQueue: { req: ws.PollActivityTaskQueueRequest, res: ws.PollActivityTaskQueueResponse },
  RecordActivityTaskHeartbeat: { req: ws.RecordActivityTaskHeartbeatRequest, res: ws.RecordActivityTaskHeartbeatResponse },
  RespondActivityTaskCompleted: { req: ws.RespondActivityTaskCompletedRequest, res: ws.RespondActivityTaskCompletedResponse },
  RespondActivityTaskFailed: { req: ws.RespondActivityTaskFailedRequest, res: ws.RespondActivityTaskFailedResponse },
  RespondActivityTaskCanceled: { req: ws.RespondActivityTaskCanceledRequest, res: ws.RespondActivityTaskCanceledResponse },
  ShutdownWorker: { req: ws.ShutdownWorkerRequest, res: ws.ShutdownWorkerResponse },
  RecordWorkerHeartbeat: { req: ws.RecordWorkerHeartbeatRequest, res: ws.RecordWorkerHeartbeatResponse },
};

/** Request headers passed on to Temporal; the runner's token is not one of them. */
const FORWARDED_HEADERS = ['grpc-timeout', 'user-agent', 'client-name', 'client-version', 'supported-server-versions', 'temporal-namespace'];

export interface RunnerProxySettings {
  /** Temporal's frontend, host:port (plaintext gRPC on a private network). */
  upstream: string;
  namespace: string;
  tls: { key: string | Buffer; cert: string | Buffer };
  host: string;
  port: number;
  /** How often calls in flight are re-checked against the database (revocation, shadowban, tier). */
  refreshMs: number;
  /** Largest request message accepted from a runner. */
  maxMessageBytes: number;
  /** How long a task token handed to a runner stays usable by it. */
  taskTokenTtlMs: number;
  /** TLS to Temporal (a secured cluster, Temporal Cloud); plaintext when absent. */
  upstreamTls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string } | null;
  /** Sent upstream as `authorization: Bearer` (never the runner's token). */
  upstreamApiKey?: string;
  /** HTTP/2 pings on the upstream session: a session whose ping goes unanswered this long is dropped and redialled. */
  upstreamPing?: { intervalMs: number; timeoutMs: number };
  /** The longest any forwarded call may take (above Temporal's long-poll of about a minute). */
  upstreamCallTimeoutMs?: number;
}

export interface RunnerProxy {
  port: number;
  /** Calls seen, by outcome: for tests and the metrics line. */
  stats: { forwarded: number; denied: number; cut: number };
  close(): Promise<void>;
}

/** The fields of a runner's request the endpoint reads or rewrites; the rest passes as decoded. */
interface RunnerRequest {
  namespace?: string | null;
  taskQueue?: { name?: string | null } | null;
  taskToken?: Uint8Array | null;
}

interface LiveCall {
  method: string;
  queue?: string;
  cut(code: GrpcStatusCode, message: string): void;
}

export async function startRunnerProxy(deps: { db: Db; keys: PayloadKeys; settings: RunnerProxySettings; log?: (line: string) => void }): Promise<RunnerProxy> {
  const { settings, keys } = deps;
  const log = deps.log ?? (() => {});
  const store = new EntitlementStore(deps.db, settings.refreshMs);
  const live = new Map<string, Set<LiveCall>>();
  const stats = { forwarded: 0, denied: 0, cut: 0 };

  let upstream: ClientHttp2Session | null = null;
  const upstreamSession = (): ClientHttp2Session => {
    if (upstream && !upstream.closed && !upstream.destroyed) return upstream;
    const t = settings.upstreamTls;
    const session = t
      ? http2.connect(`https://${settings.upstream}`, { ca: t.ca, cert: t.cert, key: t.key, servername: t.serverName })
      : http2.connect(`http://${settings.upstream}`);
    session.on('error', (err) => log(`upstream ${settings.upstream}: ${err.message}`));
    // A half-open connection (a Temporal node gone without a FIN) is noticed by its unanswered ping.
    const ping = settings.upstreamPing;
    const pinger = ping
      ? setInterval(() => {
          const timer = setTimeout(() => {
            log(`upstream ${settings.upstream}: no ping answer in ${ping.timeoutMs} ms; reconnecting`);
            session.destroy();
          }, ping.timeoutMs);
          try {
            session.ping((err) => {
              clearTimeout(timer);
              if (err) session.destroy();
            });
          } catch {
            clearTimeout(timer);
            session.destroy();
          }
        }, ping.intervalMs)
      : null;
    pinger?.unref();
    session.on('close', () => {
      if (pinger) clearInterval(pinger);
      if (upstream === session) upstream = null;
    });
    session.on('goaway', () => {
      if (upstream === session) upstream = null;
    });
    upstream = session;
    return session;
  };

  const server: Http2Server = http2.createSecureServer({ key: settings.tls.key, cert: settings.tls.cert, allowHTTP1: false });
  server.on('stream', (stream, headers) => {
    handle(stream, headers).catch((err) => {
      const e = err instanceof GrpcError ? err : new GrpcError(GrpcStatus.INTERNAL, 'the runner endpoint failed on this call');
      if (!(err instanceof GrpcError)) log(`internal error: ${(err as Error).message}`);
      else stats.denied++;
      sendError(stream, e.code, e.message);
      // A refusal before the whole request was read: reset the stream so the client stops sending.
      if (!stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('sessionError', (err) => log(`runner session: ${err.message}`));

  /** One runner call: authenticate → decode → authorize → bind the task → forward → seal the answer. */
  async function handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const rule = ruleFor(String(headers[':path'] ?? ''));
    const owner = tokenOwner(headers);
    const body = await readBody(stream, settings.maxMessageBytes + 5);
    const ent = await entitlementOf(owner);
    const { request, message } = decode(rule.method, headers, body);
    const queue = await authorize(rule, owner, ent, request);
    // Passed on as read (uncompressed) unless its payloads were sealed by bindTask.
    const forwarded = rule.kind === 'task' ? bindTask(rule.method, owner, request) : message;
    const response = await forward(stream, owner, { method: rule.method, queue }, headers, frame(forwarded));
    if (!response) return;
    const out = rule.kind === 'poll' && response.status === GrpcStatus.OK ? sealPolledTask(rule.method, owner, response.body) : response.body;
    stats.forwarded++;
    reply(stream, out, response.trailers);
  }

  /** The runner token's hash (its identity here); no token, no call. */
  function tokenOwner(headers: IncomingHttpHeaders): string {
    const auth = headers.authorization;
    const token = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
    if (!token) throw new GrpcError(GrpcStatus.UNAUTHENTICATED, 'send the runner token as "authorization: Bearer <token>" metadata (trd-worker login issues it)');
    return hashToken(token);
  }

  async function entitlementOf(owner: string): Promise<Entitlement> {
    const ent = await store.lookup(owner);
    if (!ent) throw new GrpcError(GrpcStatus.UNAUTHENTICATED, 'runner token is unknown or revoked: run `trd-worker login`');
    if (ent.cutOff) throw new GrpcError(GrpcStatus.PERMISSION_DENIED, ent.cutOff);
    return ent;
  }

  /** The gRPC frame opened and the request message decoded; anything malformed is INVALID_ARGUMENT. */
  function decode(method: string, headers: IncomingHttpHeaders, body: Buffer): { request: RunnerRequest; message: Uint8Array } {
    try {
      const message = unframe(body, settings.maxMessageBytes, headerString(headers['grpc-encoding']));
      return { request: MESSAGES[method].req.decode(message) as RunnerRequest, message };
    } catch (err) {
      if (err instanceof GrpcError) throw err;
      throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `malformed ${method} request: ${(err as Error).message}`);
    }
  }

  /** Its own namespace only; a poll only on a queue it is entitled to, and none while it may take no new work. Returns the polled queue. */
  async function authorize(rule: ReturnType<typeof ruleFor>, owner: string, ent: Entitlement, request: RunnerRequest): Promise<string | undefined> {
    if (request.namespace && request.namespace !== settings.namespace) {
      throw new GrpcError(GrpcStatus.PERMISSION_DENIED, `runners work in namespace ${settings.namespace}, not ${request.namespace}`);
    }
    if (rule.kind !== 'poll') return undefined;
    const queue = String(request.taskQueue?.name ?? '');
    let problem = queueProblem(ent, queue);
    // A refusal is made on a fresh read: the runner may have declared the model or been promoted a moment ago.
    if (problem) {
      const fresh = await store.read(owner);
      if (!fresh) throw new GrpcError(GrpcStatus.UNAUTHENTICATED, 'runner token is unknown or revoked: run `trd-worker login`');
      problem = fresh.cutOff ?? queueProblem(fresh, queue);
      ent = fresh;
    }
    // Polls only: the calls that finish or report on a task it holds still pass, so its jobs end well.
    problem ??= ent.noNewWork ?? null;
    if (problem) throw new GrpcError(GrpcStatus.PERMISSION_DENIED, problem);
    return queue;
  }

  /** A call on a task: its sealed token opened for this runner only, and what it reports sealed before Temporal stores it. */
  function bindTask(method: string, owner: string, request: RunnerRequest): Uint8Array {
    // The binding, not this process's memory, says whose task it is: any replica may take the call.
    const opened = openTaskToken(keys, owner, request.taskToken ?? new Uint8Array(), Date.now());
    if ('problem' in opened) throw new GrpcError(GrpcStatus.PERMISSION_DENIED, `${method}: ${opened.problem}`);
    request.taskToken = opened.taskToken;
    mapPayloads(request, (p) => (isEncrypted(p) ? p : encryptPayload(keys, p)));
    return MESSAGES[method].req.encode(request).finish();
  }

  /** A polled task handed to this runner: its token sealed to it, its payloads opened for it. */
  function sealPolledTask(method: string, owner: string, body: Buffer): Buffer {
    if (body.length <= 5) return body;
    const types = MESSAGES[method];
    const polled = types.res.decode(unframe(body, Number.MAX_SAFE_INTEGER));
    if (!polled.taskToken?.length) return body;
    polled.taskToken = sealTaskToken(keys, owner, polled.taskToken, Date.now() + settings.taskTokenTtlMs);
    mapPayloads(polled, (p) => decryptPayload(keys, p));
    return frame(types.res.encode(polled).finish());
  }

  /** Sends the call on to Temporal; null when it was cut while in flight (the runner has its answer already). */
  function forward(
    stream: ServerHttp2Stream,
    owner: string,
    call: { method: string; queue?: string },
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; body: Buffer; trailers: Record<string, string> } | null> {
    return new Promise((resolve, reject) => {
      const out: Record<string, string> = { ':method': 'POST', ':path': String(headers[':path']), 'content-type': 'application/grpc', te: 'trailers' };
      for (const h of FORWARDED_HEADERS) if (typeof headers[h] === 'string') out[h] = headers[h] as string;
      if (settings.upstreamApiKey) out.authorization = `Bearer ${settings.upstreamApiKey}`;
      const req = upstreamSession().request(out);
      const deadline = settings.upstreamCallTimeoutMs
        ? setTimeout(() => {
            if (done) return;
            done = true;
            finish();
            req.close(http2.constants.NGHTTP2_CANCEL);
            reject(new GrpcError(GrpcStatus.DEADLINE_EXCEEDED, `Temporal did not answer ${call.method} within ${settings.upstreamCallTimeoutMs} ms`));
          }, settings.upstreamCallTimeoutMs)
        : null;
      req.once('close', () => deadline && clearTimeout(deadline));
      const chunks: Buffer[] = [];
      let trailers: Record<string, string> = {};
      let done = false;
      const entry: LiveCall = {
        ...call,
        cut: (code, message) => {
          if (done) return;
          done = true;
          stats.cut++;
          req.close(http2.constants.NGHTTP2_CANCEL);
          sendError(stream, code, message);
          resolve(null);
        },
      };
      const calls = live.get(owner) ?? new Set<LiveCall>();
      live.set(owner, calls);
      calls.add(entry);
      const finish = () => {
        calls.delete(entry);
        if (calls.size === 0) live.delete(owner);
      };
      // The runner went away (its worker stopped): stop the long poll upstream too.
      stream.once('close', () => {
        if (!done) req.close(http2.constants.NGHTTP2_CANCEL);
        finish();
      });
      req.on('response', (h) => {
        // A trailers-only answer (an error) carries its status in the headers.
        if (h['grpc-status'] !== undefined) trailers = pickGrpc(h);
      });
      req.on('trailers', (t) => (trailers = pickGrpc(t)));
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        finish();
        if (done) return;
        done = true;
        resolve({ status: Number(trailers['grpc-status'] ?? GrpcStatus.UNAVAILABLE), body: Buffer.concat(chunks), trailers });
      });
      req.on('error', (err) => {
        finish();
        if (done) return;
        done = true;
        reject(new GrpcError(GrpcStatus.UNAVAILABLE, `Temporal is unreachable from the runner endpoint: ${err.message}`));
      });
      req.end(body);
    });
  }

  // Calls in flight are re-checked: a revoked or shadowbanned runner, or one whose queue it may no longer poll, is cut.
  const recheck = setInterval(() => {
    if (live.size === 0) return;
    store
      .refresh([...live.keys()])
      .then((ents) => {
        for (const [owner, ent] of ents) {
          for (const call of live.get(owner) ?? []) {
            const problem = cutReason(ent, call);
            if (problem) {
              log(`cut ${call.method} of ${ent?.runnerId ?? 'a revoked token'}: ${problem.message}`);
              call.cut(problem.code, problem.message);
            }
          }
        }
      })
      .catch((err) => log(`entitlement refresh failed: ${(err as Error).message}`));
  }, settings.refreshMs);
  recheck.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log(`listening on ${settings.host}:${port} (TLS), forwarding to Temporal at ${settings.upstream}, namespace ${settings.namespace}`);

  return {
    port,
    stats,
    close: async () => {
      clearInterval(recheck);
      for (const calls of live.values()) for (const c of calls) c.cut(GrpcStatus.UNAVAILABLE, 'the runner endpoint is shutting down');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Runners keep their HTTP/2 sessions open; close() waits for them otherwise.
        for (const s of sessions) s.destroy();
      });
      upstream?.close();
    },
  };

  function cutReason(ent: Entitlement | null, call: LiveCall): { code: GrpcStatusCode; message: string } | null {
    if (!ent) return { code: GrpcStatus.UNAUTHENTICATED, message: 'runner token was revoked' };
    if (ent.cutOff) return { code: GrpcStatus.PERMISSION_DENIED, message: ent.cutOff };
    const problem = call.queue !== undefined ? (queueProblem(ent, call.queue) ?? ent.noNewWork ?? null) : null;
    return problem ? { code: GrpcStatus.PERMISSION_DENIED, message: problem } : null;
  }
}

function headerString(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function pickGrpc(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && typeof v === 'string') out[k] = v;
  return out;
}

/** Reads the request body, refusing one longer than `limit` without buffering the rest. */
function readBody(stream: ServerHttp2Stream, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stream.off('data', onData);
        reject(new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `request is over the limit of ${limit - 5} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function reply(stream: ServerHttp2Stream, body: Buffer, trailers: Record<string, string>): void {
  if (stream.closed || stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GrpcStatus.OK), ...trailers }));
  stream.end(body);
}

function sendError(stream: ServerHttp2Stream, code: GrpcStatusCode, message: string): void {
  if (stream.closed || stream.destroyed || stream.headersSent) {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
}
