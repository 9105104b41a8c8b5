/**
 * Fleets (economy/fleets.ts): an owner organization for GPU owners pooling
 * hardware. Its members act with their own account (API key or dashboard
 * sign-in); the fleet's account itself has no key and no sign-in. Roles:
 * owner (everything: limits, payout choice, redemptions), admin (invites and
 * removes members, sees everything), member (sees their own part, may leave).
 * The last owner is never removed or demoted.
 */
import { Router, type Request } from 'express';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isTimeZone } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { sendMail } from '../platform/smtp.js';
import { heardFromLately, type DispatchSettings } from '../dispatch/settings.js';
import { FLEET_ROLES, fleetStandings, refreshCapHold, startOfDayIn, type FleetRole } from '../economy/fleets.js';
import { ownerAccount, runnerAccount } from '../economy/ledger.js';
import { MICROCREDITS_PER_CREDIT } from '../economy/rates.js';
import { RedemptionRefused, balanceOf, ownerAccounts, redeem } from '../economy/redemption.js';
import { fleetView } from './fleet-view.js';
import { ApiError } from './errors.js';
import { jsonBody } from './json-body.js';
import { requireAccount } from './owner.js';
import { publicBase } from './public-url.js';
import { redemptionBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';
import { hashToken, newToken } from './tokens.js';

const TimeZone = z.string().max(64).refine(isTimeZone, 'is not an IANA time zone (e.g. Europe/Berlin)');
const PayoutTo = z.enum(['organization', 'members']);
export const CreateFleetBody = z.object({ name: z.string().min(1).max(200), time_zone: TimeZone.default('UTC'), payout_to: PayoutTo.default('organization') }).strict();
export const FleetPatchBody = z.object({ name: z.string().min(1).max(200).optional(), time_zone: TimeZone.optional(), payout_to: PayoutTo.optional() }).strict();
export const FleetInviteBody = z.object({ email: z.email().max(254), role: z.enum(FLEET_ROLES).default('member') }).strict();
export const AcceptFleetInviteBody = z.object({ token: z.string().min(10).max(100) }).strict();
export const FleetMemberPatchBody = z
  .object({
    role: z.enum(FLEET_ROLES).optional(),
    /** Whole credits a day (the fleet's time zone); null removes the cap. */
    daily_cap_credits: z.number().int().min(0).max(1_000_000_000).nullable().optional(),
    /** Runners holding a token under the fleet at once; null removes the limit. */
    max_runners: z.number().int().min(0).max(10_000).nullable().optional(),
  })
  .strict();

function fleetIdParam(req: Request): string {
  const id = String(req.params.id);
  if (!/^cus_[a-f0-9]{32}$/.test(id)) throw new ApiError(400, 'invalid_request', 'id: not a fleet id (cus_ and 32 hex digits)', 'id');
  return id;
}

export function fleetsRouter(deps: { db: Db; settings: GatewaySettings }): Router {
  const { db, settings } = deps;
  const router = Router();
  const auth = requireAccount(db);

  /** The caller's membership, or 404 (a fleet one is not in looks like no fleet); `roles` limits who may act. */
  const membership = async (fleetId: string, accountId: string, roles: readonly FleetRole[] = FLEET_ROLES) => {
    const m = await db.fleetMember.findFirst({ where: { fleetId, accountId, removedAt: null, joinedAt: { not: null } } });
    if (!m) throw new ApiError(404, 'fleet_not_found', `you are in no fleet ${fleetId}`, 'id');
    if (!roles.includes(m.role as FleetRole)) throw new ApiError(403, 'fleet_role', `only a fleet ${roles.join(' or ')} may do this; you are ${m.role === 'admin' ? 'an' : 'a'} ${m.role}`);
    return m;
  };

  router.post('/v1/fleets', auth, async (req, res) => {
    const body = CreateFleetBody.parse(jsonBody(req));
    const id = `cus_${randomUUID().replace(/-/g, '')}`;
    const memberId = `fm_${randomUUID().replace(/-/g, '')}`;
    await db.$transaction([
      db.customer.create({ data: { id, name: body.name } }),
      db.fleet.create({ data: { id, timeZone: body.time_zone, payoutTo: body.payout_to } }),
      db.fleetMember.create({ data: { id: memberId, fleetId: id, accountId: res.locals.customerId, role: 'owner', joinedAt: new Date() } }),
    ]);
    res.status(201).json(await fleetView(db, settings.dispatch, id, { id: memberId, role: 'owner' }));
  });

  router.get('/v1/fleets', auth, async (_req, res) => {
    const mine = await db.fleetMember.findMany({ where: { accountId: res.locals.customerId, removedAt: null, joinedAt: { not: null } }, orderBy: { createdAt: 'asc' } });
    const names = new Map((await db.customer.findMany({ where: { id: { in: mine.map((m) => m.fleetId) } }, select: { id: true, name: true } })).map((c) => [c.id, c.name]));
    res.json({ object: 'list', data: mine.map((m) => ({ id: m.fleetId, name: names.get(m.fleetId), role: m.role, member_id: m.id })) });
  });

  router.get('/v1/fleets/:id', auth, async (req, res) => {
    const id = fleetIdParam(req);
    res.json(await fleetView(db, settings.dispatch, id, await membership(id, res.locals.customerId)));
  });

  router.patch('/v1/fleets/:id', auth, async (req, res) => {
    const id = fleetIdParam(req);
    const me = await membership(id, res.locals.customerId, ['owner']);
    const body = FleetPatchBody.parse(jsonBody(req));
    const fleet = await db.fleet.findUniqueOrThrow({ where: { id } });
    if (body.payout_to && body.payout_to !== fleet.payoutTo && (await fleetHasEarned(db, id))) {
      // Redemptions debit the redeemer's account, not the runners': moving earned credits to other hands could pay them twice.
      throw new ApiError(409, 'payout_choice_fixed', 'whom payouts go to is chosen before the fleet earns: its runners have earned already, so it stays ' + fleet.payoutTo, 'payout_to');
    }
    await db.$transaction([
      ...(body.name !== undefined ? [db.customer.update({ where: { id }, data: { name: body.name } })] : []),
      db.fleet.update({ where: { id }, data: { ...(body.time_zone ? { timeZone: body.time_zone } : {}), ...(body.payout_to ? { payoutTo: body.payout_to } : {}) } }),
    ]);
    // A new time zone moves midnight: every member's hold is read again.
    if (body.time_zone) for (const m of await db.fleetMember.findMany({ where: { fleetId: id, removedAt: null } })) await refreshCapHold(db, m.id);
    res.json(await fleetView(db, settings.dispatch, id, me));
  });

  router.post('/v1/fleets/:id/invites', auth, async (req, res) => {
    const id = fleetIdParam(req);
    const me = await membership(id, res.locals.customerId, ['owner', 'admin']);
    const body = FleetInviteBody.parse(jsonBody(req));
    if (body.role === 'owner' && me.role !== 'owner') throw new ApiError(403, 'fleet_role', 'only a fleet owner may invite an owner', 'role');
    const email = body.email.trim().toLowerCase();
    const token = newToken('trd_fi_');
    const expiresAt = new Date(Date.now() + settings.fleets.inviteTtlMs);
    const existing = await db.fleetMember.findUnique({ where: { fleetId_email: { fleetId: id, email } } });
    if (existing && existing.joinedAt && !existing.removedAt) throw new ApiError(409, 'already_member', `${email} is a member of this fleet already`, 'email');
    const invite = { role: body.role, inviteTokenHash: hashToken(token), inviteExpiresAt: expiresAt };
    let member;
    // Invited again before joining: the new link replaces the old one.
    if (existing && !existing.joinedAt && !existing.removedAt) member = await db.fleetMember.update({ where: { id: existing.id }, data: invite });
    else {
      // A removed member invited again starts afresh: a new row keeps the old one's runners and audits in the record.
      if (existing) await db.fleetMember.update({ where: { id: existing.id }, data: { email: null } });
      member = await db.fleetMember.create({ data: { id: `fm_${randomUUID().replace(/-/g, '')}`, fleetId: id, email, ...invite } });
    }
    const link = new URL(`${publicBase(req, settings.publicUrl)}/dashboard/`);
    link.searchParams.set('fleet_invite', token);
    let mailed = false;
    if (settings.emailSignIn.smtp) {
      const fleetName = (await db.customer.findUniqueOrThrow({ where: { id } })).name;
      mailed = await sendMail(settings.emailSignIn.smtp, {
        to: email,
        subject: `You are invited to the fleet ${fleetName} on TRD Compute`,
        text: [`You are invited to run your runners in the fleet ${fleetName}, as ${body.role}.`, '', `Accept, signed in to your own account: ${link}`, '', `The invite expires at ${expiresAt.toISOString()}.`].join('\n'),
      }).then(
        () => true,
        (err) => (console.error('gateway: fleet invite mail failed:', err), false),
      );
    }
    // The link is the invite: shown once to whoever invites (to pass on), and mailed when SMTP is set up.
    res.status(201).json({ member_id: member.id, email, role: member.role, invite_url: link.toString(), token, expires_at: expiresAt.toISOString(), mailed });
  });

  router.post('/v1/fleet-invites/accept', auth, async (req, res) => {
    const body = AcceptFleetInviteBody.parse(jsonBody(req));
    const accountId = res.locals.customerId as string;
    const member = await db.fleetMember.findUnique({ where: { inviteTokenHash: hashToken(body.token) } });
    if (!member || member.removedAt) throw new ApiError(404, 'invite_not_found', 'this invite is not valid: ask the fleet for a new one', 'token');
    if (member.inviteExpiresAt && member.inviteExpiresAt < new Date()) throw new ApiError(410, 'invite_expired', 'this invite expired: ask the fleet for a new one', 'token');
    if (await db.fleetMember.findFirst({ where: { fleetId: member.fleetId, accountId, removedAt: null } })) throw new ApiError(409, 'already_member', 'this account is a member of that fleet already', 'token');
    // Used in one conditional update: two accounts opening the same link join once.
    const joined = await db.fleetMember.updateMany({ where: { id: member.id, inviteTokenHash: member.inviteTokenHash }, data: { accountId, joinedAt: new Date(), inviteTokenHash: null } });
    if (joined.count === 0) throw new ApiError(404, 'invite_not_found', 'this invite was used already', 'token');
    res.json(await fleetView(db, settings.dispatch, member.fleetId, { id: member.id, role: member.role }));
  });

  router.patch('/v1/fleets/:id/members/:member', auth, async (req, res) => {
    const id = fleetIdParam(req);
    const me = await membership(id, res.locals.customerId, ['owner']);
    const body = FleetMemberPatchBody.parse(jsonBody(req));
    await db.$transaction(async (tx) => {
      // One change of owners at a time: two owners demoting each other at once leave one.
      await tx.$queryRaw`SELECT 1 FROM fleets WHERE id = ${id} FOR UPDATE`;
      const target = await tx.fleetMember.findFirst({ where: { id: String(req.params.member), fleetId: id, removedAt: null } });
      if (!target) throw new ApiError(404, 'member_not_found', `no member ${req.params.member} in this fleet`, 'member');
      if (body.role && body.role !== 'owner' && target.role === 'owner' && (await ownersLeft(tx, id)) <= 1) throw lastOwner();
      await tx.fleetMember.update({
        where: { id: target.id },
        data: {
          ...(body.role ? { role: body.role } : {}),
          ...(body.daily_cap_credits !== undefined ? { dailyCapMicrocredits: body.daily_cap_credits === null ? null : BigInt(body.daily_cap_credits) * BigInt(MICROCREDITS_PER_CREDIT) } : {}),
          ...(body.max_runners !== undefined ? { maxRunners: body.max_runners } : {}),
        },
      });
    });
    if (body.daily_cap_credits !== undefined) await refreshCapHold(db, String(req.params.member));
    res.json(await fleetView(db, settings.dispatch, id, me));
  });

  router.delete('/v1/fleets/:id/members/:member', auth, async (req, res) => {
    const id = fleetIdParam(req);
    const me = await membership(id, res.locals.customerId);
    const targetId = String(req.params.member);
    await db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM fleets WHERE id = ${id} FOR UPDATE`;
      const target = await tx.fleetMember.findFirst({ where: { id: targetId, fleetId: id, removedAt: null } });
      if (!target) throw new ApiError(404, 'member_not_found', `no member ${targetId} in this fleet`, 'member');
      const self = target.id === me.id;
      if (!self && me.role === 'member') throw new ApiError(403, 'fleet_role', 'a member may only leave, not remove others');
      if (!self && me.role === 'admin' && target.role === 'owner') throw new ApiError(403, 'fleet_role', 'only an owner may remove an owner');
      if (target.role === 'owner' && target.joinedAt && (await ownersLeft(tx, id)) <= 1) throw lastOwner();
      await tx.fleetMember.update({ where: { id: target.id }, data: { removedAt: new Date(), inviteTokenHash: null } });
      // Their machines stop running under the fleet at once; what they earned stays where the payout choice put it.
      await tx.runner.updateMany({ where: { fleetMemberId: target.id }, data: { tokenHash: null } });
    });
    res.status(204).end();
  });

  router.post('/v1/fleets/:id/redemptions', auth, async (req, res) => {
    const id = fleetIdParam(req);
    await membership(id, res.locals.customerId, ['owner']);
    const body = redemptionBody(settings.payoutMinimumCredits).parse(jsonBody(req));
    const key = req.get('idempotency-key') ?? null;
    if (key !== null && !/^[A-Za-z0-9._:-]{1,100}$/.test(key)) throw new ApiError(400, 'invalid_request', 'Idempotency-Key: 1 to 100 letters, digits, ".", "_", ":" or "-"', 'Idempotency-Key');
    try {
      // The fleet's account redeems like any owner's: cash goes through the payout workflow to the fleet's payout rail.
      const { redemption: r, replayed } = await redeem(db, { ownerId: id, credits: body.credits, to: body.to, idempotencyKey: key, payoutMinimumCredits: settings.payoutMinimumCredits });
      res.status(replayed ? 200 : 201).json({ object: 'redemption', id: r.id, to: r.to, credits: r.credits, usd_cents: r.usdCents, status: r.status, created_at: r.createdAt.toISOString() });
    } catch (err) {
      if (err instanceof RedemptionRefused) throw new ApiError(err.code === 'insufficient_balance' ? 402 : 400, err.code, err.message, 'credits');
      throw err;
    }
  });

  return router;
}

async function fleetHasEarned(db: Db, fleetId: string): Promise<boolean> {
  const runners = await db.runner.findMany({ where: { fleetId }, select: { id: true } });
  const entry = await db.ledgerEntry.findFirst({ where: { account: { in: [ownerAccount(fleetId), ...runners.map((r) => runnerAccount(r.id))] } }, select: { id: true } });
  return entry !== null;
}

/** Everything the fleet's owners see: each member's runners, jobs, earnings and audits (a member sees only their own). */
async function ownersLeft(tx: Pick<Db, 'fleetMember'>, fleetId: string): Promise<number> {
  return tx.fleetMember.count({ where: { fleetId, role: 'owner', removedAt: null, joinedAt: { not: null } } });
}

const lastOwner = () => new ApiError(409, 'last_owner', 'this is the fleet’s last owner: make another member an owner first');
