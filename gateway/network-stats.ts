/**
 * The network's public numbers (GET /v1/stats, its CSV, the badge, and the
 * gauges in /metrics): one query, cached briefly so a popular badge costs the
 * database one query per few seconds, not one per view.
 */
import { heardFromSince, type DispatchSettings } from '../dispatch/settings.js';
import type { Db } from '../platform/db.js';

export interface NetworkStats {
  generated_at: string;
  runners_online: number;
  /** Completion tokens of jobs finished in the last minute, per second. */
  tokens_per_second_now: number;
  jobs_24h: number;
  tokens_24h: number;
  models_warm: string[];
  /** Accepted → first token (queue wait, model load, prompt), median over the last 24 h; null without jobs. */
  median_time_to_first_token_ms: number | null;
  /** Jobs served by a runner that had the model loaded, of the jobs the network served, over the last 24 h; null without jobs. */
  warm_hit_ratio_24h: number | null;
  /** Who served the last 24 h's jobs (the cascade): `network`, `provider:<name>`…, each with its jobs and its share of them. */
  served_by_24h: Record<string, { jobs: number; share: number }>;
}

export const STATS_LICENSE = { license: 'CC-BY-4.0', license_url: 'https://creativecommons.org/licenses/by/4.0/', attribution: 'TRD Compute network statistics' } as const;

const CACHE_MS = 5_000;

/** Runners taking jobs now (heard from lately, idle or busy), with the models they have loaded. */
export function servingRunners(db: Db, dispatch: DispatchSettings): Promise<Array<{ loadedModels: string[] }>> {
  return db.runner.findMany({ where: { lastHeartbeatAt: { gte: heardFromSince(dispatch) }, state: { in: ['idle', 'busy'] } }, select: { loadedModels: true } });
}

export function networkStats(db: Db, dispatch: DispatchSettings): () => Promise<NetworkStats> {
  let cached: { at: number; value: Promise<NetworkStats> } | null = null;
  return () => {
    if (!cached || Date.now() - cached.at > CACHE_MS) {
      const value = compute(db, dispatch);
      cached = { at: Date.now(), value };
      value.catch(() => (cached = null));
    }
    return cached.value;
  };
}

async function compute(db: Db, dispatch: DispatchSettings): Promise<NetworkStats> {
  const now = new Date();
  const runners = await servingRunners(db, dispatch);
  const [day] = await db.$queryRaw<Array<{ jobs: bigint; tokens: bigint | null; ttft: number | null; warm: bigint; network: bigint; last_minute_tokens: bigint | null }>>`
    SELECT count(*) AS jobs,
           sum(completion_tokens) AS tokens,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY queue_wait_ms + model_load_ms + time_to_first_token_ms) AS ttft,
           count(*) FILTER (WHERE model_load_ms = 0 AND served_by IS NULL) AS warm,
           count(*) FILTER (WHERE served_by IS NULL) AS network,
           sum(completion_tokens) FILTER (WHERE finished_at >= ${new Date(now.getTime() - 60_000)}) AS last_minute_tokens
    FROM jobs
    WHERE status = 'succeeded' AND finished_at >= ${new Date(now.getTime() - 86_400_000)}`;
  const jobs = Number(day!.jobs);
  const network = Number(day!.network);
  const tiers = await db.$queryRaw<Array<{ tier: string; jobs: bigint }>>`
    SELECT coalesce(served_by, 'network') AS tier, count(*) AS jobs FROM jobs
    WHERE status = 'succeeded' AND finished_at >= ${new Date(now.getTime() - 86_400_000)} GROUP BY 1 ORDER BY 1`;
  return {
    generated_at: now.toISOString(),
    runners_online: runners.length,
    tokens_per_second_now: Math.round(Number(day!.last_minute_tokens ?? 0) / 60),
    jobs_24h: jobs,
    tokens_24h: Number(day!.tokens ?? 0),
    models_warm: [...new Set(runners.flatMap((r) => r.loadedModels))].sort(),
    median_time_to_first_token_ms: day!.ttft === null ? null : Math.round(day!.ttft),
    warm_hit_ratio_24h: network === 0 ? null : Number((Number(day!.warm) / network).toFixed(3)),
    served_by_24h: Object.fromEntries(tiers.map((t) => [t.tier, { jobs: Number(t.jobs), share: Number((Number(t.jobs) / jobs).toFixed(3)) }])),
  };
}

/** The same numbers as CSV: a header line and one row (models joined with `;`). */
export function statsCsv(s: NetworkStats): string {
  const row: Record<string, string | number> = {
    generated_at: s.generated_at,
    runners_online: s.runners_online,
    tokens_per_second_now: s.tokens_per_second_now,
    jobs_24h: s.jobs_24h,
    tokens_24h: s.tokens_24h,
    models_warm: s.models_warm.join(';'),
    median_time_to_first_token_ms: s.median_time_to_first_token_ms ?? '',
    warm_hit_ratio_24h: s.warm_hit_ratio_24h ?? '',
    license: STATS_LICENSE.license,
  };
  return `${Object.keys(row).join(',')}\n${Object.values(row).join(',')}\n`;
}
