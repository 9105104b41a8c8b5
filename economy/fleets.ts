/**
 * Fleets: an owner organization whose members run their runners under it.
 * A fleet is an account (customers.id) with a `fleets` row, so its balance,
 * payout rail and redemptions are the ones every owner has. This module holds
 * the two limits the fleet's owner sets per member, and where they bite:
 *
 * - the daily earning cap: a member whose runners earned their cap today (in
 *   the fleet's time zone) gets no new jobs until the fleet's next midnight
 *   (`capReachedUntil`, read by the runner endpoint, dispatch, the heartbeat);
 * - the concurrent-runner limit: a member's runners holding a token under the
 *   fleet, oldest first; those past the limit are refused at login (under the
 *   member's row lock) and at the runner endpoint.
 */
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../platform/db.js';
import { recordDecisions } from '../platform/runner-decisions.js';
import { ownerAccount, runnerAccount } from './accounts.js';

/** A ledger posting (economy/ledger.ts Posting): integer microcredits. */
type Posting = { account: string; amount: number };
import { MICROCREDITS_PER_CREDIT } from './rates.js';

export const FLEET_ROLES = ['owner', 'admin', 'member'] as const;
export type FleetRole = (typeof FLEET_ROLES)[number];
export type PayoutTo = 'organization' | 'members';

type Tx = Prisma.TransactionClient;

/** The instant the calendar day containing `now` began in `timeZone`. */
export function startOfDayIn(timeZone: string, now: Date): Date {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const wall = (d: Date) => Object.fromEntries(fmt.formatToParts(d).map((x) => [x.type, Number(x.value)]));
  // The zone's offset (local wall time minus UTC) at an instant.
  const offsetAt = (d: Date) => {
    const p = wall(d);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(d.getTime() / 1000) * 1000;
  };
  const p = wall(now);
  const localMidnight = Date.UTC(p.year, p.month - 1, p.day);
  const guess = localMidnight - offsetAt(now);
  // Again with the offset at that midnight itself: right when the clocks changed since.
  return new Date(localMidnight - offsetAt(new Date(guess)));
}

/** The next local midnight after `now` (a day is 23 to 25 hours, so 26 h after today's start is in the next day). */
export function nextDayStartIn(timeZone: string, now: Date): Date {
  return startOfDayIn(timeZone, new Date(startOfDayIn(timeZone, now).getTime() + 26 * 3_600_000));
}

const credits = (micro: bigint) => `${(Number(micro) / MICROCREDITS_PER_CREDIT).toLocaleString('en-US')} credits`;

/** What a member's runners earned since `since`: the entries on their runner accounts (never what went to the fleet). */
async function memberEarnedSince(tx: Pick<Db, 'runner' | 'ledgerEntry'>, memberId: string, since: Date): Promise<bigint> {
  const runners = await tx.runner.findMany({ where: { fleetMemberId: memberId }, select: { id: true } });
  if (runners.length === 0) return 0n;
  const sum = await tx.ledgerEntry.aggregate({
    where: { account: { in: runners.map((r) => runnerAccount(r.id)) }, amount: { gt: 0 }, transaction: { createdAt: { gte: since } } },
    _sum: { amount: true },
  });
  return sum._sum.amount ?? 0n;
}

/**
 * A runner's share of a job, under its member's daily cap. Called inside the job's settlement
 * transaction: the member's row is locked (FOR UPDATE) until it commits, so jobs of one member
 * settle one at a time and each sees the others' earnings.
 *
 * THE BOUND: a job is paid to the member in full while their earnings today are below the cap,
 * so the member's day ends below cap + one job's runner share (the job that crossed it). A job
 * settling once the cap is reached (it was taken before the runner endpoint heard of the cap) is
 * paid to the fleet's account instead: the work was done, on the fleet's terms.
 */
export async function cappedRunnerPosting(tx: Tx, workerId: string, share: Posting, now = new Date()): Promise<{ posting: Posting; note?: string }> {
  const runner = await tx.runner.findUnique({ where: { id: workerId }, select: { fleetMemberId: true } });
  if (!runner?.fleetMemberId) return { posting: share };
  await tx.$queryRaw`SELECT 1 FROM fleet_members WHERE id = ${runner.fleetMemberId} FOR UPDATE`;
  const member = await tx.fleetMember.findUnique({ where: { id: runner.fleetMemberId } });
  if (!member || member.dailyCapMicrocredits === null) return { posting: share };
  const fleet = await tx.fleet.findUniqueOrThrow({ where: { id: member.fleetId } });
  const earned = await memberEarnedSince(tx, member.id, startOfDayIn(fleet.timeZone, now));
  const cap = member.dailyCapMicrocredits;
  const until = nextDayStartIn(fleet.timeZone, now);
  // Every job settling past the cap crosses it again: the hold and its decision are written by the first one only.
  if (earned + BigInt(share.amount) >= cap && member.capReachedUntil?.getTime() !== until.getTime()) {
    await tx.fleetMember.update({ where: { id: member.id }, data: { capReachedUntil: until } });
    await recordCapReached(tx, member, earned + BigInt(share.amount), until, now);
  }
  if (earned < cap) return { posting: share };
  return { posting: { account: ownerAccount(fleet.id), amount: share.amount }, note: `member ${member.email ?? member.id} was at their daily cap of ${credits(cap)}: earned by the fleet` };
}

/**
 * The hold as a decision about each of the member's runners (the cap is the member's, the jobs stop for all of them);
 * once per runner and hold: a retry, or the other jobs settling past the cap, record nothing more.
 */
async function recordCapReached(tx: Pick<Db, 'runner' | 'runnerDecision'> | Tx, member: { id: string; fleetId: string; email: string | null; dailyCapMicrocredits: bigint | null }, earned: bigint, until: Date, now: Date) {
  const runners = await tx.runner.findMany({ where: { fleetMemberId: member.id }, select: { id: true } });
  const detail = {
    fleet_id: member.fleetId,
    member: member.email ?? member.id,
    cap_microcredits: Number(member.dailyCapMicrocredits ?? 0n),
    earned_today_microcredits: Number(earned),
    no_new_jobs_until: until.toISOString(),
  };
  await recordDecisions(tx, runners.map((r) => ({ runnerId: r.id, kind: 'cap_reached' as const, key: `cap:${member.id}:${until.toISOString()}`, detail, at: now })));
}

/** Sets or lifts a member's cap hold from what they earned today (after the owner changed the cap). */
export async function refreshCapHold(db: Db, memberId: string, now = new Date()): Promise<void> {
  const member = await db.fleetMember.findUniqueOrThrow({ where: { id: memberId } });
  const fleet = await db.fleet.findUniqueOrThrow({ where: { id: member.fleetId } });
  const cap = member.dailyCapMicrocredits;
  const earned = cap === null ? 0n : await memberEarnedSince(db, memberId, startOfDayIn(fleet.timeZone, now));
  const until = cap !== null && earned >= cap ? nextDayStartIn(fleet.timeZone, now) : null;
  await db.fleetMember.update({ where: { id: memberId }, data: { capReachedUntil: until } });
  if (until) await recordCapReached(db, member, earned, until, now);
}

/** Why a fleet runner may take no new jobs (hold) or may not run at all (refused); both null for others. */
export interface FleetStanding {
  fleetId: string;
  hold: string | null;
  refused: string | null;
}

/** The standing of each fleet runner among `runners` (one read per member involved; none for runners outside fleets). */
export async function fleetStandings(db: Pick<Db, 'runner' | 'fleetMember' | 'fleet'>, runners: { id: string; fleetMemberId: string | null }[], now = new Date()): Promise<Map<string, FleetStanding>> {
  const out = new Map<string, FleetStanding>();
  const memberIds = [...new Set(runners.flatMap((r) => (r.fleetMemberId ? [r.fleetMemberId] : [])))];
  if (memberIds.length === 0) return out;
  const [members, live] = await Promise.all([
    db.fleetMember.findMany({ where: { id: { in: memberIds } } }),
    db.runner.findMany({ where: { fleetMemberId: { in: memberIds }, tokenHash: { not: null } }, select: { id: true, fleetMemberId: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  ]);
  const fleets = new Map((await db.fleet.findMany({ where: { id: { in: [...new Set(members.map((m) => m.fleetId))] } } })).map((f) => [f.id, f]));
  for (const r of runners) {
    const m = members.find((x) => x.id === r.fleetMemberId);
    if (!m) continue;
    const who = m.email ?? m.accountId ?? m.id;
    const rank = live.filter((x) => x.fleetMemberId === m.id).findIndex((x) => x.id === r.id);
    let refused: string | null = null;
    if (m.removedAt) refused = `runner ${r.id}: ${who} is no longer a member of fleet ${m.fleetId}`;
    else if (m.maxRunners !== null && rank >= m.maxRunners) {
      refused = `runner ${r.id} is over ${who}'s limit of ${m.maxRunners} concurrent runner${m.maxRunners === 1 ? '' : 's'} in fleet ${m.fleetId}: revoke another of their runners, or ask the fleet's owner to raise the limit`;
    }
    const tz = fleets.get(m.fleetId)?.timeZone ?? 'UTC';
    const hold =
      m.capReachedUntil && m.capReachedUntil.getTime() > now.getTime()
        ? `${who} reached their daily earning cap of ${credits(m.dailyCapMicrocredits ?? 0n)} in fleet ${m.fleetId}: no new jobs until ${m.capReachedUntil.toISOString()} (00:00 ${tz})`
        : null;
    out.set(r.id, { fleetId: m.fleetId, hold, refused });
  }
  return out;
}

/**
 * The member's room for one more runner, checked under the member's row lock so two logins at
 * once cannot both take the last place; throws the refusal. Returns the member row.
 */
export async function lockMemberForLogin(tx: Tx, fleetId: string, accountId: string) {
  const member = await tx.fleetMember.findFirst({ where: { fleetId, accountId, removedAt: null, joinedAt: { not: null } } });
  if (!member) throw new FleetRefusal('not_fleet_member', `this account is not a member of fleet ${fleetId}: accept the fleet's invite first`);
  await tx.$queryRaw`SELECT 1 FROM fleet_members WHERE id = ${member.id} FOR UPDATE`;
  const fresh = await tx.fleetMember.findUniqueOrThrow({ where: { id: member.id } });
  if (fresh.maxRunners !== null) {
    const running = await tx.runner.count({ where: { fleetMemberId: member.id, tokenHash: { not: null } } });
    if (running >= fresh.maxRunners) {
      throw new FleetRefusal(
        'runner_limit',
        `${fresh.email ?? 'this member'} already runs ${running} runner${running === 1 ? '' : 's'} in fleet ${fleetId}, the limit the fleet's owner set (${fresh.maxRunners}): revoke one (DELETE /v1/runners/<id>/token) or ask for a higher limit`,
      );
    }
  }
  return fresh;
}

export class FleetRefusal extends Error {
  constructor(
    readonly code: 'not_fleet_member' | 'runner_limit',
    message: string,
  ) {
    super(message);
    this.name = 'FleetRefusal';
  }
}

/**
 * The runners whose earnings `ownerId` may redeem: its own runners outside fleets, its fleet
 * runners where the fleet pays members, and, for a fleet paying the organization, the fleet's runners.
 */
export async function redeemableRunnerIds(db: Pick<Db, 'runner' | 'fleet'>, ownerId: string): Promise<string[]> {
  const [own, fleet] = await Promise.all([
    db.runner.findMany({ where: { ownerId }, select: { id: true, fleetId: true } }),
    db.fleet.findUnique({ where: { id: ownerId } }),
  ]);
  const fleetIds = [...new Set(own.flatMap((r) => (r.fleetId ? [r.fleetId] : [])))];
  const paysMembers = new Set(fleetIds.length ? (await db.fleet.findMany({ where: { id: { in: fleetIds }, payoutTo: 'members' }, select: { id: true } })).map((f) => f.id) : []);
  const ids = own.filter((r) => r.fleetId === null || paysMembers.has(r.fleetId)).map((r) => r.id);
  if (fleet && fleet.payoutTo === 'organization') ids.push(...(await db.runner.findMany({ where: { fleetId: ownerId }, select: { id: true } })).map((r) => r.id));
  return [...new Set(ids)];
}
