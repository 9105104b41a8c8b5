/**
 * The warm-pool credit's one side effect: decide each minute that ended (and
 * settled) and post its credits, the minute's row and its ledger transactions
 * in one database transaction, so a minute is decided once across replicas
 * and retries. The rules are economy/warm-pool.ts.
 */
import { findModel } from '@trd/protocol';
import { postTransaction } from '../economy/ledger.js';
import { chooseWarmPool, demandTarget, demandWindows, warmPoolCredit, type WarmPoolInput } from '../economy/warm-pool.js';
import type { Db } from '../platform/db.js';
import { recordDecisions } from '../platform/runner-decisions.js';

const MINUTE = 60_000;

export interface WarmPoolRun extends WarmPoolInput {
  /** The run's time (the workflow's clock): minutes that ended `settleMs` before it are decided. */
  now: string;
}

export interface WarmPoolResult {
  /** Minutes decided by this run. */
  minutes: number;
  credits: number;
  microcredits: number;
}

export function createWarmPoolActivities(deps: { db: Db }) {
  const { db } = deps;
  return {
    async creditWarmMinutes(run: WarmPoolRun): Promise<WarmPoolResult> {
      const now = Date.parse(run.now);
      const last = Math.floor((now - run.settleMs) / MINUTE) * MINUTE - MINUTE;
      const oldest = last - (run.lookbackMinutes - 1) * MINUTE;
      const latest = await db.warmPoolMinute.findFirst({ where: { minute: { gte: new Date(oldest) } }, orderBy: { minute: 'desc' }, select: { minute: true } });
      const first = Math.max(oldest, latest ? latest.minute.getTime() + MINUTE : oldest);
      const known = (t: Record<string, number> = {}) => Object.fromEntries(Object.entries(t).filter(([model]) => findModel(model)));
      const fixed = known(run.target);
      const auto = known(run.auto);
      const byHour = new Map<number, Record<string, number>>();
      const result: WarmPoolResult = { minutes: 0, credits: 0, microcredits: 0 };
      for (let m = first; m <= last; m += MINUTE) {
        const minute = new Date(m);
        const hour = Math.floor(m / (60 * MINUTE));
        if (!byHour.has(hour)) byHour.set(hour, await demandTargets(db, auto, minute));
        const target = { ...fixed, ...byHour.get(hour) };
        const [rows, faults] = await Promise.all([
          db.$queryRaw<Array<{ runner_id: string; idle_models: string[]; reputation_score: number | null; blocked: boolean }>>`
            SELECT u.runner_id, u.idle_models, r.reputation_score,
              (r.shadowbanned_reason IS NOT NULL OR r.update_required IS NOT NULL OR EXISTS (
                -- Held at its fleet member's daily earning cap in this minute (the hold was decided before the minute
                -- ended, lasts past its start, and is still the member's: a hold the owner lifted by raising the cap is not).
                SELECT 1 FROM runner_decisions d JOIN fleet_members fm ON fm.id = r.fleet_member_id
                WHERE d.runner_id = u.runner_id AND d.kind = 'cap_reached' AND d.decided_at < ${new Date(m + MINUTE)}
                  AND fm.cap_reached_until > ${minute} AND (d.detail->>'no_new_jobs_until')::timestamp = fm.cap_reached_until
              )) AS blocked
            FROM runner_uptime_minutes u JOIN runners r ON r.id = u.runner_id
            WHERE u.minute = ${minute} AND cardinality(u.idle_models) > 0`,
          db.jobAttempt.findMany({ where: { createdAt: { gte: minute, lt: new Date(m + MINUTE) } }, select: { workerId: true }, distinct: ['workerId'] }),
        ]);
        const chosen = chooseWarmPool(
          rows.map((r) => ({ runnerId: r.runner_id, idleModels: r.idle_models, reputation: r.reputation_score, blocked: r.blocked })),
          target,
          new Set(faults.map((f) => f.workerId)),
        );
        const credits = chosen.map((c) => warmPoolCredit(c.runnerId, c.model, minute));
        const decided = await db.$transaction(async (tx) => {
          // Another replica (or an earlier attempt) that decided the minute first wins; its credits stand.
          const row = await tx.warmPoolMinute.createMany({ data: [{ minute, credited: credits.length }], skipDuplicates: true });
          if (row.count === 0) return false;
          for (const c of credits) await postTransaction(tx, c);
          await recordDecisions(
            tx,
            chosen.map((c, i) => ({ runnerId: c.runnerId, kind: 'warm_pool_credit', key: `warm:${minute.toISOString()}`, detail: { model: c.model, minute: minute.toISOString(), microcredits: credits[i]!.postings[1]!.amount }, at: new Date(now) })),
          );
          return true;
        });
        if (!decided) continue;
        result.minutes++;
        result.credits += credits.length;
        result.microcredits += credits.reduce((s, c) => s + c.postings[1]!.amount, 0);
      }
      return result;
    },
  };
}

/** The demand-derived targets for the hour of `minute` (economy/warm-pool.ts demandTarget), from the jobs' billed compute time. */
export async function demandTargets(db: Db, auto: Record<string, number>, minute: Date): Promise<Record<string, number>> {
  const models = Object.keys(auto);
  if (models.length === 0) return {};
  const busy = await db.job.groupBy({ by: ['model'], where: { model: { in: models }, OR: demandWindows(minute).map((w) => ({ acceptedAt: w })) }, _sum: { billableMs: true } });
  return Object.fromEntries(models.map((model) => [model, demandTarget(busy.find((b) => b.model === model)?._sum.billableMs ?? 0, auto[model]!)]));
}

export type WarmPoolActivities = ReturnType<typeof createWarmPoolActivities>;
