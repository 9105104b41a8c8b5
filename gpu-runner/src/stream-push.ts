/**
 * A streaming job's text, pushed to the gateway as it is generated: one HTTP
 * request per attempt whose body is NDJSON, a StreamChunk a line, sent while
 * it is written. Best effort by design: the result still goes through the
 * workflow, so a push that fails costs the customer only the live view.
 *
 * The request goes through the balancer to one gateway replica; when that
 * replica dies (the request fails, or the balancer answers 5xx) the push opens
 * again, to a live replica, and sends the text so far from offset 0 first: the
 * streaming gateway passes on only what it had not sent (gateway/openai.ts).
 */
import type { StreamChunk } from '@trd/protocol';

export interface PushStream {
  write(chunk: StreamChunk): void;
  /** Ends the request; resolves when the gateway answered, or gave up. */
  close(): Promise<void>;
}

/** How many times a push opens again after its gateway went away, per attempt. */
const MAX_REOPENS = 3;

export function openPushStream(gatewayUrl: string, jobId: string, token: string, log: (line: string) => void): PushStream {
  const encoder = new TextEncoder();
  let text = '';
  let lastAt: number | undefined;
  let closed = false;
  let reopens = 0;
  let current: { controller: ReadableStreamDefaultController<Uint8Array>; live: boolean; sent: Promise<void> } | null = null;

  const enqueue = (chunk: StreamChunk) => {
    if (!current?.live) return;
    try {
      current.controller.enqueue(encoder.encode(`${JSON.stringify(chunk)}\n`));
    } catch {
      current.live = false;
    }
  };

  const open = () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const request = { controller, live: true, sent: Promise.resolve() };
    request.sent = fetch(new URL(`/v1/jobs/${jobId}/stream`, gatewayUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
      body,
      // Node's fetch sends a stream body only half-duplex.
      duplex: 'half',
    } as RequestInit & { duplex: 'half' })
      .then(async (res) => {
        await res.body?.cancel();
        if (res.ok) return;
        log(`stream for ${jobId}: the gateway answered HTTP ${res.status}`);
        if (res.status >= 500) return reopen();
      })
      .catch((err: Error) => {
        log(`stream for ${jobId}: ${err.message}`);
        return reopen();
      })
      .finally(() => (request.live = false));
    current = request;
    // The request body's first line: the text so far (nothing on the first open).
    if (text) enqueue({ offset: 0, text, ...(lastAt !== undefined ? { at: lastAt } : {}) });
    if (closed) closeCurrent();
  };

  const reopen = (): Promise<void> | void => {
    if (closed || reopens >= MAX_REOPENS) return;
    reopens++;
    if (current) current.live = false;
    open();
    return current!.sent;
  };

  const closeCurrent = () => {
    try {
      current?.controller.close();
    } catch {
      // Already closed or errored.
    }
  };

  open();
  return {
    write(chunk) {
      // Contiguous text only: a chunk that does not follow what was written cannot be resent from 0.
      if (chunk.offset === text.length) {
        text += chunk.text;
        lastAt = chunk.at;
      }
      enqueue(chunk);
    },
    async close() {
      closed = true;
      closeCurrent();
      await Promise.race([current!.sent, new Promise((r) => setTimeout(r, 5_000).unref())]);
    },
  };
}
