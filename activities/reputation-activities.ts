/**
 * Reputation, recomputed from what the platform saw: jobs, refused results,
 * heartbeats, audits (economy/reputation.ts has the formula and the tier
 * rules). Run for every runner by the reputationSweep workflow on its
 * Schedule, and for one runner soon after each of its jobs. The clock is a
 * dependency, so tests move through days without waiting for them.
 */
import { findModel, inferenceResultProblem, type InferenceResult, type InferenceTask } from '@trd/protocol';
import { heardFromSince, type DispatchSettings } from '../dispatch/settings.js';
import { decideTier, reputationScore, type TierPolicy } from '../economy/reputation.js';
import { performanceClass, referenceSpeed } from '../economy/rates.js';
import type { Db } from '../platform/db.js';
import { decisionRow, type DecisionRecord } from '../platform/runner-decisions.js';

const DAY = 86_400_000;
const LATENCY_WINDOW_JOBS = 200;

export interface ReputationChange {
  runnerId: string;
  score: number;
  tier: { from: string; to: string };
  shadowbannedReason: string | null;
}

/** Measured speed (the platform's timing of its bench challenges; its jobs' timings until it has one) and per-token p99 from its recent jobs. */
export async function measuredPerformance(db: Db, runnerIds: string[]): Promise<Map<string, { p99MsPerToken: number | null; referenceTokensPerSecond: number | null; classKey: string | null }>> {
  const rows = await db.$queryRaw<Array<{ worker_id: string; model: string; completion_tokens: number; generation_ms: number }>>`
    SELECT worker_id, model, completion_tokens, generation_ms FROM (
      SELECT worker_id, model, completion_tokens, generation_ms, row_number() OVER (PARTITION BY worker_id ORDER BY finished_at DESC) AS n
      FROM jobs WHERE status = 'succeeded' AND worker_id = ANY(${runnerIds}) AND completion_tokens > 0 AND generation_ms > 0
    ) recent WHERE n <= ${LATENCY_WINDOW_JOBS}`;
  // Bench challenges count with the time the orchestrator measured, not what the runner reported.
  const challenges = await db.benchChallenge.findMany({ where: { runnerId: { in: runnerIds }, completionTokens: { gt: 0 } }, orderBy: { createdAt: 'desc' }, take: 20 * runnerIds.length });
  const by = new Map<string, typeof rows>();
  for (const r of rows) by.set(r.worker_id, [...(by.get(r.worker_id) ?? []), r]);
  const timed = new Map<string, number[]>();
  for (const c of challenges) {
    timed.set(c.runnerId, [...(timed.get(c.runnerId) ?? []), referenceSpeed((c.completionTokens * 1000) / Math.max(1, c.elapsedMs), findModel(c.model)?.approxSizeBytes ?? 0)]);
  }
  const out = new Map<string, { p99MsPerToken: number | null; referenceTokensPerSecond: number | null; classKey: string | null }>();
  for (const id of runnerIds) {
    const jobs = by.get(id) ?? [];
    // Job timings are the runner's own report; once the platform has timed the runner on challenges, its class is
    // what the platform timed, so a runner that reports faster generation than it has cannot outvote its challenges.
    const challengeSpeeds = timed.get(id) ?? [];
    const speeds = (
      challengeSpeeds.length ? challengeSpeeds : jobs.map((j) => referenceSpeed((j.completion_tokens * 1000) / j.generation_ms, findModel(j.model)?.approxSizeBytes ?? 0))
    ).sort((a, b) => a - b);
    if (!speeds.length) {
      out.set(id, { p99MsPerToken: null, referenceTokensPerSecond: null, classKey: null });
      continue;
    }
    const perToken = jobs.map((j) => j.generation_ms / j.completion_tokens).sort((a, b) => a - b);
    const median = speeds[Math.floor(speeds.length / 2)];
    out.set(id, {
      p99MsPerToken: perToken.length ? perToken[Math.min(perToken.length - 1, Math.ceil(perToken.length * 0.99) - 1)] : null,
      referenceTokensPerSecond: median,
      classKey: performanceClass(median).key,
    });
  }
  return out;
}

/** Uptime counts whole minutes (heartbeats are bucketed by minute) over the last 7 days, or since the runner joined. */
export function uptimeWindowStart(joinedAt: Date, now: Date): Date {
  const start = Math.max(joinedAt.getTime(), now.getTime() - 7 * DAY);
  return new Date(Math.floor(start / 60_000) * 60_000);
}

/**
 * Whole minutes from `since` to the start of the minute under way: only
 * finished minutes count, so uptime does not dip each time a minute begins
 * before the runner's next heartbeat. Zero for a runner in its first minute.
 */
export function uptimeWindowEnd(now: Date): Date {
  return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
}

export function expectedMinutes(since: Date, now: Date): number {
  return Math.max(0, (uptimeWindowEnd(now).getTime() - since.getTime()) / 60_000);
}

export interface ChallengeTarget {
  runnerId: string;
  model: string;
}

export function createReputation(deps: {
  db: Db;
  policy: TierPolicy;
  dispatch: DispatchSettings;
  clock: () => Date;
  /** False once the worker that hosts these has stopped: a refresh still pending is dropped (the next sweep does it). */
  running: () => boolean;
}) {
  const { db, policy } = deps;

  async function recompute(runnerIds?: string[]): Promise<ReputationChange[]> {
    const now = deps.clock();
    const runners = await db.runner.findMany({ where: runnerIds ? { id: { in: runnerIds } } : {} });
    if (!runners.length) return [];
    const ids = runners.map((r) => r.id);
    const monthAgo = new Date(now.getTime() - 30 * DAY);
    const auditWindow = new Date(now.getTime() - policy.cleanAuditDays * DAY);
    const [completed, totals, refused, audits, lastFailed, perf] = await Promise.all([
      db.job.groupBy({ by: ['workerId'], where: { workerId: { in: ids }, status: 'succeeded', finishedAt: { gte: monthAgo } }, _count: true }),
      db.job.groupBy({ by: ['workerId'], where: { workerId: { in: ids }, status: 'succeeded' }, _count: true }),
      db.jobAttempt.groupBy({ by: ['workerId'], where: { workerId: { in: ids }, outcome: 'invalid_result', createdAt: { gte: monthAgo } }, _count: true }),
      db.runnerAudit.groupBy({ by: ['runnerId', 'passed'], where: { runnerId: { in: ids }, createdAt: { gte: auditWindow } }, _count: true }),
      db.runnerAudit.groupBy({ by: ['runnerId'], where: { runnerId: { in: ids }, passed: false }, _max: { createdAt: true } }),
      measuredPerformance(db, ids),
    ]);
    const count = <T extends { _count: number }>(rows: T[], match: (r: T) => boolean) => rows.find(match)?._count ?? 0;
    // A class's p99: the median of its runners' p99s.
    const classP99 = new Map<string, number>();
    for (const cls of new Set([...perf.values()].map((p) => p.classKey).filter((k): k is string => k !== null))) {
      const p99s = [...perf.values()].filter((p) => p.classKey === cls && p.p99MsPerToken !== null).map((p) => p.p99MsPerToken!).sort((a, b) => a - b);
      classP99.set(cls, p99s[Math.floor(p99s.length / 2)]);
    }

    const changes: ReputationChange[] = [];
    for (const r of runners) {
      const since = uptimeWindowStart(r.createdAt, now);
      const uptimeMinutes = await db.runnerUptimeMinute.count({ where: { runnerId: r.id, minute: { gte: since, lt: uptimeWindowEnd(now) } } });
      const p = perf.get(r.id)!;
      const score = reputationScore({
        completed: count(completed, (c) => c.workerId === r.id),
        refused: count(refused, (c) => c.workerId === r.id),
        uptimeMinutes,
        expectedMinutes: expectedMinutes(since, now),
        p99MsPerToken: p.p99MsPerToken,
        classP99MsPerToken: p.classKey ? (classP99.get(p.classKey) ?? null) : null,
        auditsPassed: count(audits, (a) => a.runnerId === r.id && a.passed),
        auditsFailed: count(audits, (a) => a.runnerId === r.id && !a.passed),
      });
      const failedAt = lastFailed.find((f) => f.runnerId === r.id)?._max.createdAt ?? null;
      const decision = decideTier(r.tier, r.shadowbannedReason, {
        score,
        jobs: count(totals, (c) => c.workerId === r.id),
        ageDays: (now.getTime() - r.createdAt.getTime()) / DAY,
        cleanDays: (now.getTime() - (failedAt ?? r.createdAt).getTime()) / DAY,
        failedAuditDaysAgo: failedAt ? (now.getTime() - failedAt.getTime()) / DAY : null,
      }, policy);
      // The change and its signed-to-be record together: a retried sweep finds the change made and records nothing twice.
      const at = now.toISOString();
      const decided: DecisionRecord[] = [];
      if (decision.tier !== r.tier) decided.push({ runnerId: r.id, kind: 'tier_changed', key: `tier:${at}`, detail: { from: r.tier, to: decision.tier, score }, at: now });
      if (decision.shadowbannedReason && !r.shadowbannedReason) decided.push({ runnerId: r.id, kind: 'shadowbanned', key: `shadowban:${at}`, detail: { reason: decision.shadowbannedReason, score }, at: now });
      if (!decision.shadowbannedReason && r.shadowbannedReason) decided.push({ runnerId: r.id, kind: 'shadowban_lifted', key: `shadowban-lifted:${at}`, detail: { was: r.shadowbannedReason, score }, at: now });
      await db.$transaction([
        db.runner.update({ where: { id: r.id }, data: { reputationScore: score, reputationAt: now, tier: decision.tier, shadowbannedReason: decision.shadowbannedReason } }),
        ...(decided.length ? [db.runnerDecision.createMany({ data: decided.map(decisionRow), skipDuplicates: true })] : []),
      ]);
      if (decision.tier !== r.tier || decision.shadowbannedReason !== r.shadowbannedReason || score !== r.reputationScore) {
        changes.push({ runnerId: r.id, score, tier: { from: r.tier, to: decision.tier }, shadowbannedReason: decision.shadowbannedReason });
      }
    }
    return changes;
  }

  const pending = new Map<string, NodeJS.Timeout>();
  return {
    activities: {
      /** Every runner (the sweep), or the ones named. */
      async recomputeReputation(req: { runnerIds?: string[] }): Promise<ReputationChange[]> {
        return recompute(req.runnerIds);
      },
      /** Runners to time now: heard from lately, not shadowbanned, with a model loaded (the first one it has). */
      async challengeTargets(): Promise<ChallengeTarget[]> {
        const runners = await db.runner.findMany({
          where: { lastHeartbeatAt: { gte: heardFromSince(deps.dispatch) }, shadowbannedReason: null, state: { in: ['idle', 'busy'] } },
          select: { id: true, loadedModels: true },
          orderBy: { id: 'asc' },
        });
        return runners.filter((r) => r.loadedModels.some((m) => findModel(m))).map((r) => ({ runnerId: r.id, model: r.loadedModels.find((m) => findModel(m))! }));
      },
      /** A challenge's answer, timed by the workflow: its speed counts; a wrong answer is a failed audit. */
      async recordBenchChallenge(req: { target: ChallengeTarget; task: InferenceTask; result: InferenceResult; elapsedMs: number }): Promise<{ accepted: boolean; detail: string }> {
        const problem = inferenceResultProblem(req.task, req.result) ?? (req.result.workerId !== req.target.runnerId ? `answered by ${req.result.workerId}` : null);
        if (problem) {
          await db.runnerAudit.createMany({ data: [{ id: `challenge:${req.task.jobId}`, runnerId: req.target.runnerId, passed: false, detail: `bench challenge answer refused: ${problem}` }], skipDuplicates: true });
          return { accepted: false, detail: problem };
        }
        await db.benchChallenge.createMany({
          data: [{ id: req.task.jobId, runnerId: req.target.runnerId, model: req.task.model, completionTokens: req.result.completionTokens, elapsedMs: Math.max(1, Math.round(req.elapsedMs)) }],
          skipDuplicates: true,
        });
        return { accepted: true, detail: `${req.result.completionTokens} tokens in ${Math.round(req.elapsedMs)} ms` };
      },
    },
    /** After a job: the runner's score soon, once for a burst of its jobs. Best effort; the sweep catches anything missed. */
    touchRunner(runnerId: string): void {
      if (pending.has(runnerId)) return;
      const timer = setTimeout(() => {
        pending.delete(runnerId);
        if (!deps.running()) return;
        recompute([runnerId]).catch((err) => console.error(`reputation of ${runnerId}: ${(err as Error).message}`));
      }, 250);
      timer.unref();
      pending.set(runnerId, timer);
    },
  };
}

export type ReputationActivities = ReturnType<typeof createReputation>['activities'];
