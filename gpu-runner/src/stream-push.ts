/**
 * A streaming job's text, pushed to the gateway as it is generated: one HTTP
 * request per attempt whose body is NDJSON, a StreamChunk a line, sent while
 * it is written. Best effort by design: the result still goes through the
 * workflow, so a push that fails costs the customer only the live view.
 */
import type { StreamChunk } from '@trd/protocol';

export interface PushStream {
  write(chunk: StreamChunk): void;
  /** Ends the request; resolves when the gateway answered, or gave up. */
  close(): Promise<void>;
}

export function openPushStream(gatewayUrl: string, jobId: string, token: string, log: (line: string) => void): PushStream {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let broken = false;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const sent = fetch(new URL(`/v1/jobs/${jobId}/stream`, gatewayUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
    body,
    // Node's fetch sends a stream body only half-duplex.
    duplex: 'half',
  } as RequestInit & { duplex: 'half' })
    .then(async (res) => {
      if (!res.ok) log(`stream for ${jobId}: the gateway answered HTTP ${res.status}`);
      await res.body?.cancel();
    })
    .catch((err: Error) => log(`stream for ${jobId}: ${err.message}`))
    .finally(() => (broken = true));
  return {
    write(chunk) {
      if (broken) return;
      try {
        controller.enqueue(encoder.encode(`${JSON.stringify(chunk)}\n`));
      } catch {
        broken = true;
      }
    },
    async close() {
      try {
        controller.close();
      } catch {
        // Already closed or errored.
      }
      await Promise.race([sent, new Promise((r) => setTimeout(r, 5_000).unref())]);
    },
  };
}
