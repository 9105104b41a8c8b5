/**
 * The receipt- and dispatch-signing keys' lifecycle, shared by every
 * orchestrator through PostgreSQL: publish → activate → retire.
 *
 * - An orchestrator publishes the keys it holds that the table lacks. The
 *   first key ever is active at once; a later one becomes active
 *   `publishMs` after it is published, and the key in use until then retires
 *   at that same instant. The schedule is fixed when a key is published, so
 *   every orchestrator, runner and verifier computes the same windows.
 * - At any moment exactly one key is active: each signer signs with it if it
 *   holds it, and otherwise refuses (retryably: another orchestrator that holds
 *   it takes the retry). A signer never signs with a published or retired key.
 *
 * A rotation is therefore: give every orchestrator the new key next to the old
 * one (a rolling restart), and the switch happens at one instant for all.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../platform/db.js';
import type { SigningKey } from '../platform/signing-key.js';
import { PlatformFailures } from '../platform/workflow-api.js';

export interface SigningKeyLifecycle {
  /** How long a new key is published before it signs (runners and verifiers fetch it meanwhile). */
  publishMs: number;
  /** How often a signer re-reads the schedule; must be well under publishMs when several orchestrators run. */
  refreshMs: number;
}

export interface KeyWindow {
  kid: string;
  validFrom: Date;
  validUntil: Date | null;
}

/** The key to sign with now, and its window (no receipt it signs is dated outside it). */
export interface ActiveKey extends KeyWindow {
  key: SigningKey;
}

export interface Signer {
  /** The active key, when this process holds it; throws SigningKeyUnavailable (retryable) otherwise. */
  active(now?: Date): Promise<ActiveKey>;
}

/** Serializes publishing across orchestrators (any constant; it names this lock only). */
const PUBLISH_LOCK = 0x7472645f6b657973n;

/**
 * Publishes the keys the table lacks, in the order given (oldest first), and
 * returns the schedule. Refuses to start an orchestrator all of whose keys are retired.
 */
export async function publishSigningKeys(db: Db, keys: readonly SigningKey[], publishMs: number, now = new Date()): Promise<KeyWindow[]> {
  if (!keys.length) throw new Error('an orchestrator needs at least one receipt signing key');
  await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${PUBLISH_LOCK})`;
    for (const key of keys) {
      if (await tx.signingKey.findUnique({ where: { kid: key.kid } })) continue;
      const latest = await tx.signingKey.findFirst({ orderBy: { activatesAt: 'desc' } });
      const activatesAt = latest ? new Date(Math.max(now.getTime() + publishMs, latest.activatesAt.getTime() + 1)) : now;
      await tx.signingKey.create({ data: { kid: key.kid, publicKeyPem: key.publicKeyPem, createdAt: now, activatesAt } });
      if (latest && latest.retiredAt === null) await tx.signingKey.update({ where: { kid: latest.kid }, data: { retiredAt: activatesAt } });
    }
  });
  const schedule = await readSchedule(db);
  const mine = new Set(keys.map((k) => k.kid));
  const usable = schedule.filter((w) => mine.has(w.kid) && (w.validUntil === null || w.validUntil > now));
  if (!usable.length) {
    const retired = schedule.filter((w) => mine.has(w.kid));
    throw new Error(
      `receipt signing key ${retired.map((w) => `${w.kid} was retired at ${w.validUntil!.toISOString()}`).join(', ')} and never signs again; make a new one with \`openssl genpkey -algorithm ed25519\``,
    );
  }
  return schedule;
}

async function readSchedule(db: Db): Promise<KeyWindow[]> {
  const rows = await db.signingKey.findMany({ orderBy: { activatesAt: 'asc' }, select: { kid: true, activatesAt: true, retiredAt: true } });
  return rows.map((r) => ({ kid: r.kid, validFrom: r.activatesAt, validUntil: r.retiredAt }));
}

/** The window that contains `at`, if any. */
export function windowAt(schedule: readonly KeyWindow[], at: Date): KeyWindow | null {
  const t = at.getTime();
  for (let i = schedule.length - 1; i >= 0; i--) {
    const w = schedule[i];
    if (w.validFrom.getTime() <= t && (w.validUntil === null || t < w.validUntil.getTime())) return w;
  }
  return null;
}

/** A signer over the shared schedule, re-read at most every `refreshMs` (and at once when it has no answer). */
export function scheduledSigner(
  db: Db,
  keys: readonly SigningKey[],
  lifecycle: SigningKeyLifecycle,
  initial?: KeyWindow[],
  /** Called when every key this process holds is retired: it can never sign again, and should stop taking work. */
  onAllRetired?: (message: string) => void,
): Signer {
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  let schedule = initial ?? [];
  let readAt = initial ? Date.now() : 0;
  let reading: Promise<void> | null = null;
  const reread = () =>
    (reading ??= readSchedule(db)
      .then((s) => {
        schedule = s;
        readAt = Date.now();
      })
      .finally(() => (reading = null)));

  const pick = (now: Date): ActiveKey | null => {
    const w = windowAt(schedule, now);
    const key = w && byKid.get(w.kid);
    return w && key ? { ...w, key } : null;
  };

  return {
    async active(now = new Date()) {
      if (Date.now() - readAt >= lifecycle.refreshMs) await reread();
      let found = pick(now);
      if (!found) {
        await reread();
        found = pick(now);
      }
      if (found) return found;
      const w = windowAt(schedule, now);
      const message = w
        ? `this orchestrator does not hold signing key ${w.kid}, active since ${w.validFrom.toISOString()} (it holds ${[...byKid.keys()].join(', ')}): give it the new key too`
        : 'no signing key is active now';
      const mine = schedule.filter((k) => byKid.has(k.kid));
      if (mine.length && mine.every((k) => k.validUntil !== null && k.validUntil <= now)) onAllRetired?.(message);
      throw ApplicationFailure.retryable(message, PlatformFailures.SigningKeyUnavailable);
    },
  };
}

/** One key, always active: for tests and tools that sign outside the shared schedule. */
export function fixedSigner(key: SigningKey): Signer {
  return { active: async () => ({ kid: key.kid, validFrom: new Date(0), validUntil: null, key }) };
}
