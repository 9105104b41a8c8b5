/**
 * Live text of streaming jobs, from the runner to the client waiting here.
 * The gateway opens a stream when it accepts a streaming job and hands its
 * token (random, per job) to the workflow, which puts it in the task; the
 * runner pushes text with it to POST /v1/jobs/:id/stream. Only this process
 * knows the token, so only the runner working on the job can write to it.
 */
import { Router } from 'express';
import { JOB_ID_PATTERN, type StreamChunk } from '@trd/protocol';
import { ApiError } from './errors.js';
import { bearerToken, hashToken, matchesSecretHash, newToken } from './tokens.js';

const TOKEN_PREFIX = 'trd_st_';
/** A line longer than this is not a chunk of text: the push is refused. */
const MAX_LINE_BYTES = 1 << 20;

interface OpenStream {
  tokenHash: Buffer;
  onChunk(chunk: StreamChunk): void;
}

const hash = (token: string) => Buffer.from(hashToken(token), 'hex');

export class JobStreams {
  private readonly open = new Map<string, OpenStream>();

  /** Opens the job's stream; `onChunk` gets each pushed piece until `close()`. */
  openStream(jobId: string, onChunk: (chunk: StreamChunk) => void): { token: string; close(): void } {
    const token = newToken(TOKEN_PREFIX);
    this.open.set(jobId, { tokenHash: hash(token), onChunk });
    return { token, close: () => this.open.delete(jobId) };
  }

  private find(jobId: string, token: string): OpenStream {
    const stream = this.open.get(jobId);
    // The same answer for "no such stream" and "wrong token": the route tells a caller nothing.
    if (!stream || !matchesSecretHash(token, stream.tokenHash)) {
      throw new ApiError(404, 'stream_not_found', `no open stream for job ${jobId} with this token (the client may have gone)`);
    }
    return stream;
  }

  router(): Router {
    const router = Router();
    router.post('/v1/jobs/:id/stream', async (req, res) => {
      const jobId = String(req.params.id);
      if (!JOB_ID_PATTERN.test(jobId)) throw new ApiError(404, 'job_not_found', `no job ${JSON.stringify(jobId)}`, 'id');
      const stream = this.find(jobId, bearerToken(req.get('authorization'), 'stream token', TOKEN_PREFIX));
      req.setEncoding('utf8');
      let buffered = '';
      let bad: string | null = null;
      for await (const data of req as AsyncIterable<string>) {
        buffered += data;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          bad ??= deliver(stream, line);
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

function deliver(stream: OpenStream, line: string): string | null {
  if (!line.trim()) return null;
  let chunk: StreamChunk;
  try {
    chunk = JSON.parse(line);
  } catch {
    return 'a line is not JSON';
  }
  if (!Number.isSafeInteger(chunk?.offset) || chunk.offset < 0 || typeof chunk.text !== 'string') return 'a chunk needs an integer offset and a text';
  stream.onChunk(chunk);
  return null;
}
