/**
 * Task-queue names and trust tiers: derived here and nowhere else.
 *
 * A runner polls, for each model it serves and each trust tier up to its own:
 *  - `model.<key>.warm.<tier>` when it has the model loaded, and
 *  - `model.<key>.cold.<tier>` whenever it can serve the model at all (loaded,
 *    or on disk and loadable), so a job that no warm runner took goes to
 *    everyone who can serve it, warm runners that freed up included;
 * plus `runner.<worker id>`, its own queue, for work routed to it by name
 * (a long job moved off a slower runner, a retry steered away from a runner
 * that returned a bad result).
 * A job that requires tier T is scheduled on T's queues, which only runners
 * of tier T or above poll.
 */
import { assertModelKey } from './model-keys.js';

export const ORCHESTRATOR_QUEUE = 'orchestrator';

/** Lowest first. A runner polls the queues of its own tier and every tier below. */
export const TRUST_TIERS = ['probation', 'verified', 'trusted'] as const;
export type TrustTier = (typeof TRUST_TIERS)[number];

export type Warmth = 'warm' | 'cold';

export function isTrustTier(value: unknown): value is TrustTier {
  return TRUST_TIERS.includes(value as TrustTier);
}

/** The tiers whose queues a runner of `tier` polls. */
export function tiersUpTo(tier: TrustTier): TrustTier[] {
  return TRUST_TIERS.slice(0, TRUST_TIERS.indexOf(tier) + 1);
}

export function tierAtLeast(tier: TrustTier, minimum: TrustTier): boolean {
  return TRUST_TIERS.indexOf(tier) >= TRUST_TIERS.indexOf(minimum);
}

export function modelQueue(key: string, warmth: Warmth, tier: TrustTier): string {
  assertModelKey(key);
  if (!isTrustTier(tier)) throw new Error(`unknown trust tier ${JSON.stringify(tier)} (known: ${TRUST_TIERS.join(', ')})`);
  return `model.${key}.${warmth}.${tier}`;
}

export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export function assertWorkerId(id: string): void {
  if (!WORKER_ID_PATTERN.test(id)) {
    throw new Error(`invalid worker id ${JSON.stringify(id)}: use 1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit`);
  }
}

/** The queue only the runner `workerId` polls. */
export function runnerQueue(workerId: string): string {
  assertWorkerId(workerId);
  return `runner.${workerId}`;
}

/**
 * The queue the spine's runners polled. Only jobs accepted before warm and
 * cold routing (their histories have no `dispatch-v2` marker) schedule on it.
 */
export function legacyModelQueue(key: string): string {
  assertModelKey(key);
  return `model.${key}`;
}
