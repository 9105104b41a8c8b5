/** What a fleet's members see of it: each member's runners, jobs, earnings and audits (a member sees only their own). */
import type { Db } from '../platform/db.js';
import { heardFromLately, type DispatchSettings } from '../dispatch/settings.js';
import { fleetStandings, startOfDayIn } from '../economy/fleets.js';
import { runnerAccount } from '../economy/ledger.js';
import { MICROCREDITS_PER_CREDIT } from '../economy/rates.js';
import { balanceOf, ownerAccounts } from '../economy/redemption.js';

const RECENT_AUDITS = 5;

export async function fleetView(db: Db, dispatch: DispatchSettings, fleetId: string, viewer: { id: string; role: string }) {
  const now = new Date();
  const [account, fleet] = await Promise.all([db.customer.findUniqueOrThrow({ where: { id: fleetId } }), db.fleet.findUniqueOrThrow({ where: { id: fleetId } })]);
  const all = await db.fleetMember.findMany({ where: { fleetId, removedAt: null }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  const members = viewer.role === 'member' ? all.filter((m) => m.id === viewer.id) : all;
  const runners = await db.runner.findMany({ where: { fleetMemberId: { in: members.map((m) => m.id) } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  const ids = runners.map((r) => r.id);
  const dayStart = startOfDayIn(fleet.timeZone, now);
  const [standing, jobs, jobsToday, earned, earnedToday, audits, failed] = await Promise.all([
    fleetStandings(db, runners, now),
    db.job.groupBy({ by: ['workerId'], where: { workerId: { in: ids }, status: 'succeeded' }, _count: true }),
    db.job.groupBy({ by: ['workerId'], where: { workerId: { in: ids }, status: 'succeeded', finishedAt: { gte: dayStart } }, _count: true }),
    db.ledgerEntry.groupBy({ by: ['account'], where: { account: { in: ids.map(runnerAccount) }, amount: { gt: 0 } }, _sum: { amount: true } }),
    db.ledgerEntry.groupBy({ by: ['account'], where: { account: { in: ids.map(runnerAccount) }, amount: { gt: 0 }, transaction: { createdAt: { gte: dayStart } } }, _sum: { amount: true } }),
    db.runnerAudit.groupBy({ by: ['runnerId', 'passed'], where: { runnerId: { in: ids } }, _count: true }),
    db.runnerAudit.findMany({ where: { runnerId: { in: ids }, passed: false }, orderBy: { createdAt: 'desc' }, take: RECENT_AUDITS * Math.max(1, members.length) }),
  ]);
  const count = (rows: { workerId: string | null; _count: number }[], id: string) => rows.find((r) => r.workerId === id)?._count ?? 0;
  const sum = (rows: { account: string; _sum: { amount: bigint | null } }[], id: string) => Number(rows.find((r) => r.account === runnerAccount(id))?._sum.amount ?? 0n);
  const runnerView = (r: (typeof runners)[number]) => {
    const s = standing.get(r.id);
    const online = r.tokenHash !== null && heardFromLately(r.lastHeartbeatAt, dispatch, now.getTime()) && r.state !== 'stopping';
    return {
      id: r.id,
      online,
      state: online ? r.state : r.tokenHash ? 'offline' : 'revoked',
      tier: r.tier,
      hold: s?.hold ?? null,
      refused: s?.refused ?? null,
      jobs_done: count(jobs, r.id),
      jobs_today: count(jobsToday, r.id),
      earned_microcredits: sum(earned, r.id),
      earned_today_microcredits: sum(earnedToday, r.id),
      audits: {
        passed: audits.find((a) => a.runnerId === r.id && a.passed)?._count ?? 0,
        failed: audits.find((a) => a.runnerId === r.id && !a.passed)?._count ?? 0,
        recent_failed: failed.filter((a) => a.runnerId === r.id).slice(0, RECENT_AUDITS).map((a) => ({ id: a.id, job_id: a.jobId, detail: a.detail, at: a.createdAt.toISOString() })),
      },
    };
  };
  const memberViews = members.map((m) => {
    const mine = runners.filter((r) => r.fleetMemberId === m.id).map(runnerView);
    return {
      id: m.id,
      email: m.email,
      role: m.role,
      status: m.joinedAt ? 'active' : 'invited',
      daily_cap_credits: m.dailyCapMicrocredits === null ? null : Number(m.dailyCapMicrocredits) / MICROCREDITS_PER_CREDIT,
      max_runners: m.maxRunners,
      cap_reached_until: m.capReachedUntil && m.capReachedUntil > now ? m.capReachedUntil.toISOString() : null,
      runners: mine,
      jobs_today: mine.reduce((n, r) => n + r.jobs_today, 0),
      earned_today_microcredits: mine.reduce((n, r) => n + r.earned_today_microcredits, 0),
      earned_microcredits: mine.reduce((n, r) => n + r.earned_microcredits, 0),
    };
  });
  return {
    id: fleetId,
    object: 'fleet',
    name: account.name,
    time_zone: fleet.timeZone,
    payout_to: fleet.payoutTo,
    your_role: viewer.role,
    day_started_at: dayStart.toISOString(),
    // What the fleet's account may redeem (with payout_to=organization: its runners' earnings, and what went over members' caps).
    balance_microcredits: viewer.role === 'member' ? null : await balanceOf(db, await ownerAccounts(db, fleetId)),
    members: memberViews,
    totals: {
      runners: runners.length,
      jobs_today: memberViews.reduce((n, m) => n + m.jobs_today, 0),
      earned_today_microcredits: memberViews.reduce((n, m) => n + m.earned_today_microcredits, 0),
    },
  };
}

/** The fleets an account is in, each as its role lets it see (the dashboard's overview carries them). */
export async function fleetsOf(db: Db, dispatch: DispatchSettings, accountId: string) {
  const mine = await db.fleetMember.findMany({ where: { accountId, removedAt: null, joinedAt: { not: null } }, orderBy: { createdAt: 'asc' } });
  return Promise.all(mine.map((m) => fleetView(db, dispatch, m.fleetId, m)));
}
