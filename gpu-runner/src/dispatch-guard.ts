/**
 * The runner's check of a task's signed dispatch envelope (protocol/dispatch.ts)
 * against the platform's published keys (GET /keys on the gateway). A task
 * that is unsigned, expired, signed by an unknown key or for another job,
 * model or prompt is refused before any work is done.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { RunnerFailures, dispatchProblem, publicKeyFromPem, type TrustedKey } from '@trd/protocol';
import { intSetting } from '@trd/protocol/settings';
import { gatewayRequest } from './gateway-api.js';

export interface DispatchGuard {
  /** Why this task must be refused, or null; throws when it cannot be checked now (the keys are out of reach). */
  problem(task: DispatchSubjectTask): Promise<string | null>;
  /** Fetches the platform's keys ahead of the first task, so a gateway outage then does not stop work. */
  prefetch(): Promise<void>;
}

type DispatchSubjectTask = { jobId: string; model: string; prompt: string; dispatch?: unknown };

/**
 * Checks a task before any work: a forged one fails for good (no retry can make it genuine); one that
 * cannot be checked now fails retryably, so a gateway outage delays the job instead of failing it.
 */
export async function checkDispatch(guard: DispatchGuard | undefined, task: DispatchSubjectTask, workerId: string, what = 'task'): Promise<void> {
  if (!guard) return;
  let refused: string | null;
  try {
    refused = await guard.problem(task);
  } catch (err) {
    throw ApplicationFailure.retryable(`runner ${workerId} cannot check this ${what}'s signature now: ${(err as Error).message}`, RunnerFailures.DispatchUnverifiable);
  }
  if (refused) throw ApplicationFailure.nonRetryable(`runner ${workerId} refuses this ${what}: ${refused}`, RunnerFailures.DispatchRefused);
}

/** TRD_RUNNER_KEYS_REFRESH_MS: how often the runner re-reads the platform's keys (retirements reach it within this). */
export function keysRefreshMs(env: Record<string, string | undefined>): number {
  return intSetting(env, 'TRD_RUNNER_KEYS_REFRESH_MS', undefined, { reader: 'runner' });
}

/** The platform's published keys (GET /keys on the gateway), by kid; entries that do not parse are skipped. */
export async function fetchPlatformKeys(gatewayUrl: string): Promise<Map<string, TrustedKey>> {
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
  return next;
}

export function gatewayDispatchGuard(gatewayUrl: string, opts: { clockSkewMs?: number; refetchAfterMs?: number; refreshMs?: number } = {}): DispatchGuard {
  const refetchAfterMs = opts.refetchAfterMs ?? 5000;
  let keys = new Map<string, TrustedKey>();
  let fetchedAt = 0;
  let fetching: Promise<void> | null = null;

  const refresh = () =>
    (fetching ??= (async () => {
      try {
        const next = await fetchPlatformKeys(gatewayUrl);
        keys = next;
        fetchedAt = Date.now();
      } finally {
        fetching = null;
      }
    })());

  // On a timer too: a key published ahead of its activation is known before it signs, and a
  // retired key stops being accepted for dispatches issued after its retirement.
  if (opts.refreshMs) setInterval(() => void refresh().catch(() => {}), opts.refreshMs).unref();

  return {
    async problem(task) {
      const kid = (task.dispatch as { claims?: { kid?: unknown } } | undefined)?.claims?.kid;
      // A key not seen yet (the platform rotated) is looked up again, at most every refetchAfterMs.
      if (typeof kid === 'string' && !keys.has(kid) && Date.now() - fetchedAt >= refetchAfterMs) {
        try {
          await refresh();
        } catch (err) {
          throw new Error(`cannot fetch the platform's keys: ${(err as Error).message}`);
        }
      }
      return dispatchProblem(task.dispatch, task, keys, new Date(), opts.clockSkewMs ?? 0);
    },
    prefetch: () => refresh(),
  };
}
