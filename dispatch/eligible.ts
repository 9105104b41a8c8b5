/**
 * The runners that could take a job for a model right now. Three sources,
 * each the truth for one thing:
 *  - Temporal's poller lists (DescribeTaskQueue) say who polls the model's
 *    queues: that a runner is connected and may be sent the job;
 *  - the runners' heartbeats to the gateway say whether each one has the
 *    model loaded (warm), how loaded it is, and that it is alive (Temporal
 *    keeps a poller listed for a minute after it went, and a runner restarted
 *    under the same id still shows its old warm poller);
 *  - finished jobs in PostgreSQL say how fast each one is (tokens/s measured
 *    from its work, not claimed) and how reliable (the reputation placeholder).
 */
import { fleetStandings } from '../economy/fleets.js';
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { modelQueue, tierAtLeast, type TrustTier } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { heardFromLately, type DispatchSettings } from './settings.js';

export interface EligibleRunner {
  workerId: string;
  isWarm: boolean;
  tier: TrustTier | null;
  /** 0–100; placeholder until reputation lands: (successes + 1) / (successes + bad attempts + 2). */
  reputation: number;
  benchClass: string | null;
  /** Measured from its last finished jobs; null until it has some. */
  tokensPerSecond: number | null;
  runningJobs: number | null;
  slots: number | null;
  /** Has a free slot as of its last heartbeat (true when it sends none). */
  available: boolean;
  lastHeartbeatAt: string | null;
  lastPolledAt: string;
}

/** A poll is a long poll of up to a minute; a runner that has not polled for longer is gone. */
const POLLER_FRESH_MS = 70_000;
/** How many of a runner's latest jobs its speed is measured over. */
const SPEED_WINDOW_JOBS = 50;
/** Less generation time than this in the window measures nothing. */
const MIN_MEASURED_MS = 5;

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** Temporal's view of an activity task queue: its pollers, and with `reportStats` its approximate backlog. */
export function describeActivityQueue(client: Client, queue: string, opts: { reportStats?: boolean } = {}) {
  return client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    reportStats: opts.reportStats ?? false,
  });
}

async function pollersOf(client: Client, queue: string): Promise<Map<string, number>> {
  const res = await describeActivityQueue(client, queue);
  const seen = new Map<string, number>();
  for (const p of res.pollers ?? []) {
    if (!p.identity) continue;
    const at = optionalTsToMs(p.lastAccessTime) ?? 0;
    seen.set(p.identity, Math.max(at, seen.get(p.identity) ?? 0));
  }
  return seen;
}

export interface RunnerStats {
  tokensPerSecond: number | null;
  successes: number;
  badAttempts: number;
}

/** Speed and reliability from the jobs each runner finished. */
export async function runnerStats(db: Db, workerIds: string[]): Promise<Map<string, RunnerStats>> {
  const stats = new Map<string, RunnerStats>(workerIds.map((id) => [id, { tokensPerSecond: null, successes: 0, badAttempts: 0 }]));
  if (workerIds.length === 0) return stats;
  const speeds = await db.$queryRaw<Array<{ worker_id: string; tokens: bigint; ms: bigint }>>`
    SELECT worker_id, SUM(completion_tokens)::bigint AS tokens, SUM(generation_ms)::bigint AS ms
    FROM (
      SELECT worker_id, completion_tokens, generation_ms,
             row_number() OVER (PARTITION BY worker_id ORDER BY finished_at DESC) AS n
      FROM jobs WHERE status = 'succeeded' AND worker_id = ANY(${workerIds})
    ) recent
    WHERE n <= ${SPEED_WINDOW_JOBS}
    GROUP BY worker_id`;
  for (const s of speeds) {
    if (Number(s.ms) >= MIN_MEASURED_MS) stats.get(s.worker_id)!.tokensPerSecond = Math.floor((Number(s.tokens) * 1000) / Number(s.ms));
  }
  const done = await db.job.groupBy({ by: ['workerId'], where: { status: 'succeeded', workerId: { in: workerIds } }, _count: true });
  for (const d of done) stats.get(d.workerId!)!.successes = d._count;
  const bad = await db.jobAttempt.groupBy({ by: ['workerId'], where: { workerId: { in: workerIds } }, _count: true });
  for (const b of bad) stats.get(b.workerId)!.badAttempts = b._count;
  return stats;
}

export function reputationScore(s: Pick<RunnerStats, 'successes' | 'badAttempts'>): number {
  return Math.round((100 * (s.successes + 1)) / (s.successes + s.badAttempts + 2));
}

export async function eligibleRunners(
  deps: { client: Client; db: Db; settings: DispatchSettings },
  query: { model: string; minTier: TrustTier; now?: number; /** false skips speed and reputation (two queries over jobs), for routing checks that need neither. */ stats?: boolean },
): Promise<EligibleRunner[]> {
  const now = query.now ?? Date.now();
  // Runners of a higher tier poll the lower tiers' queues too, so the minimum tier's queues list everyone allowed.
  const [warm, cold] = await Promise.all([
    pollersOf(deps.client, modelQueue(query.model, 'warm', query.minTier)),
    pollersOf(deps.client, modelQueue(query.model, 'cold', query.minTier)),
  ]);
  const ids = [...new Set([...warm.keys(), ...cold.keys()])].filter((id) => now - Math.max(warm.get(id) ?? 0, cold.get(id) ?? 0) <= POLLER_FRESH_MS);
  const [rows, stats] = await Promise.all([
    deps.db.runner.findMany({ where: { id: { in: ids } } }),
    query.stats === false ? new Map<string, RunnerStats>() : runnerStats(deps.db, ids),
  ]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  // Fleet runners whose member reached the daily cap, or over the member's runner limit, are left out.
  const fleet = await fleetStandings(deps.db, rows, new Date(now));

  const out: EligibleRunner[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    if (row) {
      // A registered runner must be heard from, and be allowed the tier (its polling alone proves nothing).
      // 'starting' is said before its Workers poll; until it says otherwise, old pollers of the same id may be what Temporal lists.
      if (!heardFromLately(row.lastHeartbeatAt, deps.settings, now) || row.state === 'stopping' || row.state === 'starting' || row.state === 'paused') continue;
      if (!tierAtLeast(row.tier, query.minTier)) continue;
      // Shadowbanned: no new jobs until its reputation recovers.
      if (row.shadowbannedReason) continue;
      if (fleet.get(id)?.hold || fleet.get(id)?.refused) continue;
      // What it serves is what its heartbeat says (the owner's whitelist may leave a model it polled a moment ago).
      if (!row.loadedModels.includes(query.model) && !row.diskModels.includes(query.model)) continue;
    }
    const s = stats.get(id) ?? { tokensPerSecond: null, successes: 0, badAttempts: 0 };
    const pollsWarm = warm.has(id) && now - warm.get(id)! <= POLLER_FRESH_MS;
    out.push({
      workerId: id,
      isWarm: row ? row.loadedModels.includes(query.model) : pollsWarm,
      tier: row?.tier ?? null,
      // The platform's score (economy/reputation.ts) once computed; until then, from its jobs alone.
      reputation: row?.reputationScore ?? reputationScore(s),
      benchClass: row?.benchClass ?? null,
      tokensPerSecond: s.tokensPerSecond,
      runningJobs: row ? row.runningJobs : null,
      slots: row ? row.slots : null,
      available: row ? row.runningJobs < row.slots : true,
      lastHeartbeatAt: row?.lastHeartbeatAt?.toISOString() ?? null,
      lastPolledAt: new Date(Math.max(warm.get(id) ?? 0, cold.get(id) ?? 0)).toISOString(),
    });
  }
  // Best first: warm, free, fast, reliable.
  return out.sort(
    (a, b) =>
      Number(b.isWarm) - Number(a.isWarm) ||
      Number(b.available) - Number(a.available) ||
      (b.tokensPerSecond ?? -1) - (a.tokensPerSecond ?? -1) ||
      b.reputation - a.reputation ||
      a.workerId.localeCompare(b.workerId),
  );
}
