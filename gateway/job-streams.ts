/**
 * Live text of streaming jobs, from the runner to the client waiting on any
 * gateway replica. The gateway that takes a streaming request opens the job's
 * stream and hands its token (random, per job) to the workflow, which puts it
 * in the task; only its hash is stored, on the job's row. The runner pushes
 * text with it to POST /v1/jobs/:id/stream on whichever replica the balancer
 * picks: that replica checks the token against the row and passes each chunk
 * on with PostgreSQL NOTIFY on the job's own channel, which the streaming
 * replica LISTENs to. A push to the streaming replica itself is delivered
 * directly. Whatever a lost notification misses comes from the job's result
 * at the end (gateway/openai.ts).
 */
import { Router } from 'express';
import pg from 'pg';
import { JOB_ID_PATTERN, type StreamChunk } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';
import { bearerToken, hashToken, matchesSecretHash, newToken } from './tokens.js';

const TOKEN_PREFIX = 'trd_st_';
/** A line longer than this is not a chunk of text: the push is refused. */
const MAX_LINE_BYTES = 1 << 20;
/** NOTIFY payloads are capped at 8000 bytes; text is sent in pieces under it. */
const NOTIFY_TEXT_CHARS = 1800;

interface OpenStream {
  tokenHash: Buffer;
  onChunk(chunk: StreamChunk): void;
}

const hash = (token: string) => Buffer.from(hashToken(token), 'hex');
/** The job's channel (job ids are `job_` and 32 hex digits: a valid identifier, quoted anyway). */
const channel = (jobId: string) => `trd_stream_${jobId.slice(4)}`;

/** The one connection a gateway LISTENs on; it reconnects and listens again after a failure. */
class Listener {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly handlers = new Map<string, (payload: string) => void>();

  constructor(
    private readonly databaseUrl: string,
    private readonly log: (line: string) => void,
  ) {}

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    return (this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl });
      client.on('notification', (n) => this.handlers.get(n.channel)?.(n.payload ?? ''));
      client.on('error', (err) => {
        this.log(`stream listener: ${err.message}; reconnecting`);
        if (this.client === client) this.client = null;
        void client.end().catch(() => {});
        setTimeout(() => void this.relisten(), 500).unref();
      });
      try {
        await client.connect();
        for (const ch of this.handlers.keys()) await client.query(`LISTEN "${ch}"`);
        this.client = client;
        return client;
      } finally {
        this.connecting = null;
      }
    })());
  }

  private async relisten(): Promise<void> {
    if (!this.handlers.size || this.client) return;
    await this.connect().catch((err: Error) => {
      this.log(`stream listener: ${err.message}; retrying`);
      setTimeout(() => void this.relisten(), 1000).unref();
    });
  }

  async listen(ch: string, onPayload: (payload: string) => void): Promise<void> {
    this.handlers.set(ch, onPayload);
    const client = await this.connect();
    await client.query(`LISTEN "${ch}"`);
  }

  unlisten(ch: string): void {
    this.handlers.delete(ch);
    this.client?.query(`UNLISTEN "${ch}"`).catch(() => {});
  }

  async close(): Promise<void> {
    this.handlers.clear();
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}

/**
 * Passes a chunk to the gateway replica streaming the job, through NOTIFY on
 * the job's channel: a runner's push arrives here, and the orchestrator's
 * upstream calls (the cascade) publish straight from the trusted side.
 */
export async function publishStreamChunk(db: Db, jobId: string, c: StreamChunk): Promise<void> {
  const ch = channel(jobId);
  for (let i = 0; i < c.text.length || i === 0; i += NOTIFY_TEXT_CHARS) {
    const piece: StreamChunk = { ...c, offset: c.offset + i, text: c.text.slice(i, i + NOTIFY_TEXT_CHARS) };
    await db.$executeRaw`SELECT pg_notify(${ch}, ${JSON.stringify(piece)})`;
  }
}

export class JobStreams {
  private readonly open = new Map<string, OpenStream>();
  private readonly listener: Listener | null;

  /** Without a database URL, streams reach only pushes to this process (a single gateway). */
  constructor(
    private readonly db: Db,
    opts: { databaseUrl?: string; log?: (line: string) => void } = {},
  ) {
    this.listener = opts.databaseUrl ? new Listener(opts.databaseUrl, opts.log ?? ((l) => console.error(`gateway: ${l}`))) : null;
  }

  /** Opens the job's stream; `onChunk` gets each pushed piece, from any replica, until `close()`. */
  async openStream(jobId: string, onChunk: (chunk: StreamChunk) => void): Promise<{ token: string; close(): void }> {
    const token = newToken(TOKEN_PREFIX);
    this.open.set(jobId, { tokenHash: hash(token), onChunk });
    try {
      await this.listener?.listen(channel(jobId), (payload) => {
        try {
          onChunk(JSON.parse(payload));
        } catch {
          // Not ours to answer: a malformed notification is dropped; the result fills the gap.
        }
      });
    } catch (err) {
      this.open.delete(jobId);
      throw err;
    }
    return {
      token,
      close: () => {
        this.open.delete(jobId);
        this.listener?.unlisten(channel(jobId));
      },
    };
  }

  close(): Promise<void> {
    return this.listener?.close() ?? Promise.resolve();
  }

  /** Where a push's chunks go: straight to the stream open here, or through NOTIFY to the replica that has it. */
  private async sinkFor(jobId: string, token: string): Promise<(chunk: StreamChunk) => Promise<void>> {
    const notFound = () => new ApiError(404, 'stream_not_found', `no open stream for job ${jobId} with this token (the client may have gone)`);
    const local = this.open.get(jobId);
    // The same answer for "no such stream" and "wrong token": the route tells a caller nothing.
    if (local) {
      if (!matchesSecretHash(token, local.tokenHash)) throw notFound();
      return async (c) => local.onChunk(c);
    }
    if (!this.listener) throw notFound();
    const job = await this.db.job.findUnique({ where: { id: jobId }, select: { streamTokenHash: true, status: true } });
    if (!job?.streamTokenHash || !matchesSecretHash(token, Buffer.from(job.streamTokenHash)) || (job.status !== 'queued' && job.status !== 'running')) throw notFound();
    return (c) => publishStreamChunk(this.db, jobId, c);
  }

  router(): Router {
    const router = Router();
    router.post('/v1/jobs/:id/stream', async (req, res) => {
      const jobId = String(req.params.id);
      if (!JOB_ID_PATTERN.test(jobId)) throw new ApiError(404, 'job_not_found', `no job ${JSON.stringify(jobId)}`, 'id');
      const sink = await this.sinkFor(jobId, bearerToken(req.get('authorization'), 'stream token', TOKEN_PREFIX));
      req.setEncoding('utf8');
      let buffered = '';
      let bad: string | null = null;
      for await (const data of req as AsyncIterable<string>) {
        buffered += data;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const parsed = parseLine(line);
          if (typeof parsed === 'string') bad ??= parsed;
          else if (parsed) await sink(parsed);
        }
        if (buffered.length > MAX_LINE_BYTES) bad ??= 'a line is longer than 1 MiB';
        if (bad) break;
      }
      if (bad) throw new ApiError(400, 'bad_stream', `stream refused: ${bad}`);
      res.status(204).end();
    });
    return router;
  }
}

/** A chunk, null for a blank line, or why the line is refused. */
function parseLine(line: string): StreamChunk | null | string {
  if (!line.trim()) return null;
  let chunk: StreamChunk;
  try {
    chunk = JSON.parse(line);
  } catch {
    return 'a line is not JSON';
  }
  if (!Number.isSafeInteger(chunk?.offset) || chunk.offset < 0 || typeof chunk.text !== 'string') return 'a chunk needs an integer offset and a text';
  return { offset: chunk.offset, text: chunk.text, ...(Number.isFinite(chunk.at) ? { at: chunk.at } : {}) };
}
