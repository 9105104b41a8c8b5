/**
 * The runner's check of a task's signed dispatch envelope (protocol/dispatch.ts)
 * against the platform's published keys (GET /keys on the gateway). A task
 * that is unsigned, expired, signed by an unknown key or for another job,
 * model or prompt is refused before any work is done.
 */
import { dispatchProblem, publicKeyFromPem, type TrustedKey } from '@trd/protocol';
import { gatewayRequest } from './gateway-api.js';

export interface DispatchGuard {
  /** Why this task must be refused, or null. */
  problem(task: { jobId: string; model: string; prompt: string; dispatch?: unknown }): Promise<string | null>;
}

export function gatewayDispatchGuard(gatewayUrl: string, opts: { clockSkewMs?: number; refetchAfterMs?: number } = {}): DispatchGuard {
  const refetchAfterMs = opts.refetchAfterMs ?? 5000;
  let keys = new Map<string, TrustedKey>();
  let fetchedAt = 0;
  let fetching: Promise<void> | null = null;

  const refresh = () =>
    (fetching ??= (async () => {
      try {
        const answer = await gatewayRequest(gatewayUrl, '/keys', { method: 'GET' });
        if (answer.status !== 200 || !Array.isArray(answer.json?.keys)) throw new Error(`GET /keys answered HTTP ${answer.status}`);
        const next = new Map<string, TrustedKey>();
        for (const k of answer.json.keys) {
          if (typeof k?.kid !== 'string' || typeof k.public_key_pem !== 'string') continue;
          let publicKey: Uint8Array;
          try {
            publicKey = publicKeyFromPem(k.public_key_pem);
          } catch {
            continue;
          }
          next.set(k.kid, { kid: k.kid, publicKey, retiredAt: typeof k.valid_until === 'string' ? k.valid_until : null });
        }
        keys = next;
        fetchedAt = Date.now();
      } finally {
        fetching = null;
      }
    })());

  return {
    async problem(task) {
      const kid = (task.dispatch as { claims?: { kid?: unknown } } | undefined)?.claims?.kid;
      // A key not seen yet (the platform rotated) is looked up again, at most every refetchAfterMs.
      if (typeof kid === 'string' && !keys.has(kid) && Date.now() - fetchedAt >= refetchAfterMs) {
        try {
          await refresh();
        } catch (err) {
          return `cannot fetch the platform's keys to check the task's signature: ${(err as Error).message}`;
        }
      }
      return dispatchProblem(task.dispatch, task, keys, new Date(), opts.clockSkewMs ?? 0);
    },
  };
}
