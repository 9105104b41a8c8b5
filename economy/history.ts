/**
 * What the owner's plots and the public card's uptime strip draw: a runner's
 * earnings, jobs, warm minutes, speed and reliability over time, counted in
 * PostgreSQL by UTC day or hour and filled with zeros (or nulls where there
 * is nothing to measure) so every series has one value per bucket.
 */
import type { RunnerState } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { runnerAccount } from './ledger.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;

/** The plots' spans: earnings, speed, reliability and uptime per day over 30 days; jobs and warm minutes per hour over 7 days. */
export const HISTORY_DAYS = 30;
export const HISTORY_HOURS = 7 * 24;

/** A runner is warm when it has a model loaded and takes jobs: not while starting, loading, paused or stopping. */
export function isWarm(state: RunnerState, loadedModels: readonly string[]): boolean {
  return loadedModels.length > 0 && (state === 'idle' || state === 'busy');
}

/** The starts of the last `count` buckets of `size` ms (UTC), oldest first; the last one holds `now`. */
export function bucketStarts(now: Date, size: number, count: number): number[] {
  const last = Math.floor(now.getTime() / size) * size;
  return Array.from({ length: count }, (_, i) => last - (count - 1 - i) * size);
}

/** Minutes of the day starting at `dayStart` a runner could have been up: none before it joined or after `now`. */
export function expectedMinutesOfDay(dayStart: number, joinedAt: Date, now: Date): number {
  const from = Math.max(dayStart, Math.floor(joinedAt.getTime() / MINUTE) * MINUTE);
  const to = Math.min(dayStart + DAY, now.getTime());
  return Math.max(0, Math.floor((to - from) / MINUTE));
}

export interface RunnerSeries {
  /** Per day: microcredits earned (the positive ledger entries on its account). */
  earned_microcredits: number[];
  /** Per hour: jobs it completed. */
  jobs: number[];
  /** Per hour: minutes it was warm. */
  warm_minutes: number[];
  /** Per day: completion tokens ÷ generation time of its jobs; null on a day without jobs. */
  tokens_per_second: (number | null)[];
  /** Per day: jobs completed ÷ (completed + results refused); null on a day without either. */
  reliability: (number | null)[];
}

export interface OwnerHistory {
  generated_at: string;
  /** Bucket starts (ISO, UTC) of the daily and hourly series. */
  days: string[];
  hours: string[];
  /** Every runner of the owner together. */
  fleet: RunnerSeries;
  runners: Array<{ id: string } & RunnerSeries>;
}

type Row = { bucket: Date; runner: string };
interface Counts {
  earned: Map<string, number>;
  jobs: Map<string, number>;
  warm: Map<string, number>;
  tokens: Map<string, number>;
  genMs: Map<string, number>;
  completed: Map<string, number>;
  refused: Map<string, number>;
}

const key = (runner: string, bucket: number) => `${runner}@${bucket}`;
const tally = <T extends Row>(rows: T[], value: (r: T) => bigint | number | null) =>
  new Map(rows.map((r) => [key(r.runner, r.bucket.getTime()), Number(value(r) ?? 0)]));

async function counts(db: Db, ids: string[], daysSince: Date, hoursSince: Date): Promise<Counts> {
  if (ids.length === 0) return { earned: new Map(), jobs: new Map(), warm: new Map(), tokens: new Map(), genMs: new Map(), completed: new Map(), refused: new Map() };
  const runnerOf = new Map(ids.map((id) => [runnerAccount(id), id]));
  const [earnedByAccount, hourlyJobs, warm, daily, refused] = await Promise.all([
    db.$queryRaw<Array<{ bucket: Date; account: string; earned: bigint }>>`
      SELECT date_trunc('day', t.created_at) AS bucket, e.account, sum(e.amount) AS earned
      FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
      WHERE e.account = ANY(${[...runnerOf.keys()]}) AND e.amount > 0 AND t.created_at >= ${daysSince} GROUP BY 1, 2`,
    db.$queryRaw<Array<Row & { jobs: bigint }>>`
      SELECT date_trunc('hour', finished_at) AS bucket, worker_id AS runner, count(*) AS jobs FROM jobs
      WHERE worker_id = ANY(${ids}) AND status = 'succeeded' AND finished_at >= ${hoursSince} GROUP BY 1, 2`,
    db.$queryRaw<Array<Row & { warm: bigint }>>`
      SELECT date_trunc('hour', minute) AS bucket, runner_id AS runner, count(*) AS warm FROM runner_uptime_minutes
      WHERE runner_id = ANY(${ids}) AND warm AND minute >= ${hoursSince} GROUP BY 1, 2`,
    db.$queryRaw<Array<Row & { completed: bigint; tokens: bigint | null; gen_ms: bigint | null }>>`
      SELECT date_trunc('day', finished_at) AS bucket, worker_id AS runner, count(*) AS completed,
             sum(completion_tokens) FILTER (WHERE generation_ms > 0) AS tokens, sum(generation_ms) FILTER (WHERE generation_ms > 0) AS gen_ms
      FROM jobs WHERE worker_id = ANY(${ids}) AND status = 'succeeded' AND finished_at >= ${daysSince} GROUP BY 1, 2`,
    db.$queryRaw<Array<Row & { refused: bigint }>>`
      SELECT date_trunc('day', created_at) AS bucket, worker_id AS runner, count(*) AS refused FROM job_attempts
      WHERE worker_id = ANY(${ids}) AND outcome = 'invalid_result' AND created_at >= ${daysSince} GROUP BY 1, 2`,
  ]);
  const earned = earnedByAccount.map((r) => ({ ...r, runner: runnerOf.get(r.account)! }));
  return {
    earned: tally(earned, (r) => r.earned),
    jobs: tally(hourlyJobs, (r) => r.jobs),
    warm: tally(warm, (r) => r.warm),
    tokens: tally(daily, (r) => r.tokens),
    genMs: tally(daily, (r) => r.gen_ms),
    completed: tally(daily, (r) => r.completed),
    refused: tally(refused, (r) => r.refused),
  };
}

/** The series of `runners` summed: speed and reliability as ratios of the sums, not averages of ratios. */
function series(c: Counts, runners: string[], days: number[], hours: number[]): RunnerSeries {
  const sum = (m: Map<string, number>, bucket: number) => runners.reduce((s, r) => s + (m.get(key(r, bucket)) ?? 0), 0);
  return {
    earned_microcredits: days.map((d) => sum(c.earned, d)),
    jobs: hours.map((h) => sum(c.jobs, h)),
    warm_minutes: hours.map((h) => sum(c.warm, h)),
    tokens_per_second: days.map((d) => {
      const ms = sum(c.genMs, d);
      return ms > 0 ? Math.round((sum(c.tokens, d) * 1000 * 10) / ms) / 10 : null;
    }),
    reliability: days.map((d) => {
      const done = sum(c.completed, d);
      const seen = done + sum(c.refused, d);
      return seen > 0 ? Math.round((done / seen) * 1000) / 1000 : null;
    }),
  };
}

export async function ownerHistory(db: Db, customerId: string, now = new Date()): Promise<OwnerHistory> {
  const ids = (await db.runner.findMany({ where: { ownerId: customerId }, select: { id: true }, orderBy: { id: 'asc' } })).map((r) => r.id);
  const days = bucketStarts(now, DAY, HISTORY_DAYS);
  const hours = bucketStarts(now, HOUR, HISTORY_HOURS);
  const c = await counts(db, ids, new Date(days[0]!), new Date(hours[0]!));
  return {
    generated_at: now.toISOString(),
    days: days.map((d) => new Date(d).toISOString()),
    hours: hours.map((h) => new Date(h).toISOString()),
    fleet: series(c, ids, days, hours),
    runners: ids.map((id) => ({ id, ...series(c, [id], days, hours) })),
  };
}

/** One runner's uptime per day over the last 30: the share of the day's minutes with a heartbeat; null before it joined. */
export async function uptimeByDay(db: Db, runnerId: string, joinedAt: Date, now = new Date()): Promise<Array<{ day: string; uptime: number | null }>> {
  const days = bucketStarts(now, DAY, HISTORY_DAYS);
  const rows = await db.$queryRaw<Array<{ bucket: Date; minutes: bigint }>>`
    SELECT date_trunc('day', minute) AS bucket, count(*) AS minutes FROM runner_uptime_minutes
    WHERE runner_id = ${runnerId} AND minute >= ${new Date(days[0]!)} GROUP BY 1`;
  const up = new Map(rows.map((r) => [r.bucket.getTime(), Number(r.minutes)]));
  return days.map((d) => {
    const expected = expectedMinutesOfDay(d, joinedAt, now);
    return { day: new Date(d).toISOString().slice(0, 10), uptime: expected > 0 ? Math.min(1, (up.get(d) ?? 0) / expected) : null };
  });
}
