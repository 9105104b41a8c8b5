/**
 * The warm pool: the platform pays runners to keep models loaded and idle, up
 * to a target of warm capacity per model, so a customer's job finds a warm
 * runner. Decided per minute from the heartbeats' record (runner_uptime_minutes:
 * the models loaded in every beat of the minute while idle); the rules here are
 * pure, the posting is activities/warm-pool-activities.ts.
 */
import { findModel } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { envInt, optionalSetting, settingsEnv, SettingsError } from '../platform/env.js';
import { PLATFORM_REVENUE, runnerAccount, type Posting } from './ledger.js';
import { warmMinuteMicrocredits } from './rates.js';

export interface WarmPoolSettings {
  /** `model=runners|auto[:max],…` as configured; null: no warm pool. */
  target: string | null;
  everyMs: number;
  settleMs: number;
  lookbackMinutes: number;
}

/** What each run of the warm-pool workflow is given (its Schedule's argument). */
export interface WarmPoolInput {
  /** Runners per model, fixed. */
  target: Record<string, number>;
  /** Models whose target is derived from demand (demandTarget), each with its most runners. Absent in Schedules written before it. */
  auto?: Record<string, number>;
  settleMs: number;
  lookbackMinutes: number;
}

const MAX_RUNNERS = 10_000;
/** The days of history a demand-derived target averages: the same hour of day on each. */
export const DEMAND_DAYS = 7;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * `model=runners` (a fixed target) or `model=auto` / `model=auto:max` (derived from demand, at most `max`, else
 * 10,000), comma-separated: catalog keys, each once, whole numbers of runners from 1 to 10,000.
 */
export function parseWarmPoolTarget(spec: string): { target: Record<string, number>; auto: Record<string, number> } {
  const target: Record<string, number> = {};
  const auto: Record<string, number> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*(?:(\d+)|auto(?::(\d+))?)$/.exec(part);
    if (!m) throw new SettingsError(`TRD_WARM_POOL_TARGET: ${JSON.stringify(part)} is not model=runners or model=auto[:max] (e.g. smollm2-135m-instruct=2)`);
    const [, model, count, max] = m as unknown as [string, string, string | undefined, string | undefined];
    if (!findModel(model)) throw new SettingsError(`TRD_WARM_POOL_TARGET: ${model} is not a catalog model`);
    if (model in target || model in auto) throw new SettingsError(`TRD_WARM_POOL_TARGET: ${model} is given twice`);
    const n = Number(count ?? max ?? MAX_RUNNERS);
    if (n < 1 || n > MAX_RUNNERS) throw new SettingsError(`TRD_WARM_POOL_TARGET: ${part}: runners must be 1 to ${MAX_RUNNERS}`);
    (count === undefined ? auto : target)[model] = n;
  }
  return { target, auto };
}

/**
 * A demand-derived target for one minute: the model's average number of jobs running at once in the same hour of
 * day over the last DEMAND_DAYS days (their billed compute time over the hours), rounded up, so an hour that usually
 * sees work keeps that much capacity idle and warm beside it, and an hour that never does pays for none; at most `max`.
 */
export function demandTarget(busyMs: number, max: number): number {
  return Math.min(max, Math.ceil(busyMs / (DEMAND_DAYS * HOUR)));
}

/** The hours a minute's demand is read from: the same hour of day (UTC) on each of the DEMAND_DAYS days before. */
export function demandWindows(minute: Date): Array<{ gte: Date; lt: Date }> {
  const hour = Math.floor(minute.getTime() / HOUR) * HOUR;
  return Array.from({ length: DEMAND_DAYS }, (_, i) => ({ gte: new Date(hour - (i + 1) * DAY), lt: new Date(hour - (i + 1) * DAY + HOUR) }));
}

export function warmPoolSettings(env: Record<string, string | undefined>): WarmPoolSettings {
  const target = optionalSetting(env, 'TRD_WARM_POOL_TARGET');
  if (target) parseWarmPoolTarget(target);
  return {
    target,
    everyMs: envInt(env, 'TRD_WARM_POOL_EVERY_MS'),
    settleMs: envInt(env, 'TRD_WARM_POOL_SETTLE_MS'),
    lookbackMinutes: envInt(env, 'TRD_WARM_POOL_LOOKBACK_MINUTES'),
  };
}

export function warmPoolSettingsEnv(s: WarmPoolSettings): Record<string, string> {
  return settingsEnv('warmPool', s);
}

export function warmPoolInput(s: WarmPoolSettings): WarmPoolInput | null {
  return s.target ? { ...parseWarmPoolTarget(s.target), settleMs: s.settleMs, lookbackMinutes: s.lookbackMinutes } : null;
}

export interface WarmCandidate {
  runnerId: string;
  /** Loaded in every heartbeat of the minute while idle. */
  idleModels: string[];
  reputation: number | null;
  /** Shadowbanned, below the minimum version, or held at its fleet member's daily cap: it could not have taken a job, so its warmth is worth nothing. */
  blocked: boolean;
}

/**
 * Who earns the minute: for each model of the target in turn, its idle candidates, best reputation first (then by
 * id), up to the model's target; a runner counts for one model at most. A runner with a refused or failed job in
 * the minute (`faulted`) earns nothing for it.
 */
export function chooseWarmPool(candidates: WarmCandidate[], target: Record<string, number>, faulted: ReadonlySet<string>): Array<{ runnerId: string; model: string }> {
  const eligible = candidates
    .filter((c) => !c.blocked && !faulted.has(c.runnerId))
    .sort((a, b) => (b.reputation ?? -1) - (a.reputation ?? -1) || (a.runnerId < b.runnerId ? -1 : a.runnerId > b.runnerId ? 1 : 0));
  const chosen = new Map<string, string>();
  for (const [model, wanted] of Object.entries(target)) {
    let n = 0;
    for (const c of eligible) {
      if (n >= wanted) break;
      if (chosen.has(c.runnerId) || !c.idleModels.includes(model)) continue;
      chosen.set(c.runnerId, model);
      n++;
    }
  }
  return [...chosen].map(([runnerId, model]) => ({ runnerId, model }));
}

/** One runner-minute's credit, from platform revenue; its id makes it once per runner and minute. */
export function warmPoolCredit(runnerId: string, model: string, minute: Date): { id: string; kind: string; note: string; postings: Posting[] } {
  const amount = warmMinuteMicrocredits(findModel(model)!.creditsPerHour);
  return {
    id: `warm:${runnerId}:${minute.toISOString()}`,
    kind: 'warm_pool_credit',
    note: `kept ${model} warm`,
    postings: [
      { account: PLATFORM_REVENUE, amount: -amount },
      { account: runnerAccount(runnerId), amount },
    ],
  };
}

/** Each runner's warm-pool credits since `since`: minutes credited and microcredits, for the dashboard and `trd-worker status`. */
export async function warmPoolEarnings(db: Db, runnerIds: string[], since: Date): Promise<Map<string, { minutes: number; earned_microcredits: number }>> {
  const out = new Map(runnerIds.map((id) => [id, { minutes: 0, earned_microcredits: 0 }]));
  if (runnerIds.length === 0) return out;
  const byAccount = new Map(runnerIds.map((id) => [runnerAccount(id), id]));
  const rows = await db.$queryRaw<Array<{ account: string; minutes: bigint; earned: bigint }>>`
    SELECT e.account, count(*) AS minutes, sum(e.amount) AS earned
    FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
    WHERE e.account = ANY(${[...byAccount.keys()]}) AND t.kind = 'warm_pool_credit' AND t.created_at >= ${since} GROUP BY 1`;
  for (const r of rows) out.set(byAccount.get(r.account)!, { minutes: Number(r.minutes), earned_microcredits: Number(r.earned) });
  return out;
}
