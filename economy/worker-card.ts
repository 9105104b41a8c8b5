/** A runner's public record: what customers see before they hire it (GET /v1/workers/:id/card). */
import type { TrustTier } from '@trd/protocol';
import type { PublicClient } from 'viem';
import type { ChainSettings } from '../chain/settings.js';
import { tokenCard, type TokenCard } from './reputation-token-card.js';
import { expectedMinutes, measuredPerformance, uptimeWindowEnd, uptimeWindowStart } from '../activities/reputation-activities.js';
import type { Db } from '../platform/db.js';
import { PERFORMANCE_CLASSES } from './rates.js';
import { CLEAN_AUDIT_DAYS } from './reputation.js';
import { uptimeByDay } from './history.js';

const DAY = 86_400_000;

export interface WorkerCard {
  worker_id: string;
  tier: TrustTier;
  reputation_score: number | null;
  jobs_completed: number;
  /** Completed ÷ (completed + results refused), all time. */
  success_rate: number | null;
  /** Minutes with a heartbeat over the last 7 days (or since it joined). */
  uptime_7d: number | null;
  /** The share of each of the last 30 days (UTC) with a heartbeat, oldest first; null for days before it joined. */
  uptime_30d: Array<{ day: string; uptime: number | null }>;
  p99_ms_per_token: number | null;
  /** The class its measured speed earns; what it claims is shown beside, never used. */
  measured_class: { key: string; label: string } | null;
  claimed_class: string | null;
  verified_badge: { earned: boolean; clean_audit_days: number; days_to_go: number };
  joined_at: string;
  /** Its soulbound token, when the platform has one configured: where, and the score the chain holds beside reputation_score. */
  reputation_token?: TokenCard | null;
}

export async function workerCard(db: Db, id: string, now = new Date(), onChain?: { chain: ChainSettings; client: PublicClient }): Promise<WorkerCard | null> {
  const runner = await db.runner.findUnique({ where: { id } });
  if (!runner) return null;
  const since = uptimeWindowStart(runner.createdAt, now);
  const [completed, refused, uptime, lastFailed, perf, daily] = await Promise.all([
    db.job.count({ where: { workerId: id, status: 'succeeded' } }),
    db.jobAttempt.count({ where: { workerId: id, outcome: 'invalid_result' } }),
    db.runnerUptimeMinute.count({ where: { runnerId: id, minute: { gte: since, lt: uptimeWindowEnd(now) } } }),
    db.runnerAudit.findFirst({ where: { runnerId: id, passed: false }, orderBy: { createdAt: 'desc' }, select: { createdAt: true } }),
    measuredPerformance(db, [id]),
    uptimeByDay(db, id, runner.createdAt, now),
  ]);
  const p = perf.get(id)!;
  const cls = PERFORMANCE_CLASSES.find((c) => c.key === p.classKey);
  const cleanDays = Math.floor((now.getTime() - (lastFailed?.createdAt ?? runner.createdAt).getTime()) / DAY);
  const expected = expectedMinutes(since, now);
  return {
    worker_id: id,
    tier: runner.tier,
    reputation_score: runner.reputationScore,
    jobs_completed: completed,
    success_rate: completed + refused > 0 ? completed / (completed + refused) : null,
    uptime_7d: expected > 0 ? Math.min(1, uptime / expected) : null,
    uptime_30d: daily,
    p99_ms_per_token: p.p99MsPerToken === null ? null : Math.round(p.p99MsPerToken * 100) / 100,
    measured_class: cls ? { key: cls.key, label: cls.label } : null,
    claimed_class: runner.benchClass,
    verified_badge: { earned: cleanDays >= CLEAN_AUDIT_DAYS, clean_audit_days: cleanDays, days_to_go: Math.max(0, CLEAN_AUDIT_DAYS - cleanDays) },
    joined_at: runner.createdAt.toISOString(),
    ...(onChain?.chain.reputationToken ? { reputation_token: await tokenCard(db, onChain.chain, onChain.client, id) } : {}),
  };
}
