/**
 * Checks a long chain's receipts across Web Workers: WebCrypto verifies one
 * signature at a time per thread, so a 10,000-receipt chain is split across
 * the machine's cores. The worker's code is bundled into this script and
 * started from a Blob URL (which also works on a page opened from a file);
 * the workers start with the page, so a check does not wait for them. A short
 * chain, or a browser that refuses workers, is checked on the page's own
 * thread: same code, same result.
 */
import type { EntryCheck, EntryChecker, PublishedKey } from '@trd/protocol';

declare const VERIFY_WORKER_SOURCE: string;

/** Below this, posting to workers costs more than it saves. */
const PARALLEL_FROM = 256;

let pool: Worker[] | null = null;

/** Starts the workers (once); false when this browser will not run them. */
function startPool(): boolean {
  if (pool) return pool.length > 0;
  pool = [];
  if (typeof Worker === 'undefined' || typeof VERIFY_WORKER_SOURCE !== 'string') return false;
  try {
    const url = URL.createObjectURL(new Blob([VERIFY_WORKER_SOURCE], { type: 'text/javascript' }));
    const threads = Math.min(Math.max(navigator.hardwareConcurrency || 2, 2), 8);
    for (let i = 0; i < threads; i++) pool.push(new Worker(url));
  } catch {
    pool = [];
  }
  return pool.length > 0;
}

export function warmUpWorkers(): void {
  startPool();
}

/** A checker over workers for a chain this long, or undefined when the page's own thread is the better place. */
export function parallelChecker(keys: PublishedKey[], receipts: number): EntryChecker | undefined {
  if (receipts < PARALLEL_FROM || !startPool()) return undefined;
  const workers = pool!;
  return async (entries, sessionId) => {
    const size = Math.ceil(entries.length / workers.length);
    const parts = await Promise.all(workers.map((w, i) => ask(w, { entries: entries.slice(i * size, (i + 1) * size), sessionId, keys })));
    return parts.flat();
  };
}

function ask(worker: Worker, job: { entries: readonly unknown[]; sessionId: string; keys: PublishedKey[] }): Promise<EntryCheck[]> {
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => reject(new Error(`verifier worker failed: ${e.message}`));
    worker.onmessage = (e: MessageEvent<{ checks?: EntryCheck[]; error?: string }>) => {
      if (e.data.checks) resolve(e.data.checks);
      else reject(new Error(`verifier worker failed: ${e.data.error}`));
    };
    worker.postMessage(job);
  });
}
