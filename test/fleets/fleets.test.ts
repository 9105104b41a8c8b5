/**
 * Fleets on the gateway alone (no job runs; settlements are posted through the ledger's own
 * jobSettlement, the function the job workflow's activity calls): roles and the last owner,
 * concurrent logins against a member's runner limit, the runner endpoint's decision for a runner
 * over it, a daily earning cap reached by jobs settling at once (and its bound), and payouts by
 * the fleet's choice.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createApiKey, createCustomer } from '../../gateway/api-keys.js';
import { gatewaySettings } from '../../gateway/settings.js';
import { hashToken } from '../../gateway/tokens.js';
import { fleetStandings, nextDayStartIn, startOfDayIn } from '../../economy/fleets.js';
import { jobSettlement, ownerAccount, postTransaction, runnerAccount } from '../../economy/ledger.js';
import { splitEarnings } from '../../economy/rates.js';
import { EntitlementStore } from '../../runner-proxy/entitlements.js';
import { queueProblem } from '../../runner-proxy/policy.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';
import { readBody } from '../support/http.js';

let gw: GatewayOnly;
const keys: Record<'owner' | 'admin' | 'member' | 'stranger', string> = { owner: '', admin: '', member: '', stranger: '' };
const accounts: Record<string, string> = {};
let fleetId = '';
const memberIds: Record<string, string> = {};

beforeAll(async () => {
  const defaults = gatewaySettings({});
  gw = await startGatewayOnly({
    login: { codeTtlMs: 120_000, pollIntervalMs: 100 },
    rateLimits: { ...defaults.rateLimits, perIp: 10_000, perCredential: 10_000 },
    payoutMinimumCredits: 1,
  });
  for (const who of Object.keys(keys) as (keyof typeof keys)[]) {
    accounts[who] = await createCustomer(gw.db, who);
    keys[who] = await createApiKey(gw.db, accounts[who], who);
  }
});

afterAll(async () => {
  await gw?.stop();
});

async function call(who: keyof typeof keys | null, method: string, path: string, body?: unknown, token?: string) {
  const auth = token ?? (who ? keys[who] : undefined);
  const res = await fetch(`${gw.baseUrl}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return readBody(res);
}

const HEARTBEAT = { state: 'idle', loaded_models: ['trd-tiny'], disk_models: ['trd-tiny'], running_jobs: 0, slots: 1 };

/** A device-code login into the fleet, approved by `who`; returns the CLI's device code. */
async function approvedFleetLogin(who: keyof typeof keys, fleet = fleetId): Promise<string> {
  const codes = await call(null, 'POST', '/v1/runners/device-codes', { fleet, machine: { hostname: `${who}-box`, gpu: 'none (CPU only)', runner_version: '0.1.0' } });
  expect(codes.status).toBe(201);
  const approved = await call(who, 'POST', '/v1/runners/device-codes/approve', { user_code: codes.json.user_code });
  expect(approved.status).toBe(200);
  return codes.json.device_code;
}

const poll = (deviceCode: string) => call(null, 'POST', '/v1/runners/device-token', { device_code: deviceCode });

test('startOfDayIn: the local midnight, across DST changes', () => {
  expect(startOfDayIn('Asia/Tokyo', new Date('2026-12-02T03:00:00Z')).toISOString()).toBe('2026-12-01T15:00:00.000Z');
  expect(startOfDayIn('Asia/Tokyo', new Date('2026-12-02T16:00:00Z')).toISOString()).toBe('2026-12-02T15:00:00.000Z');
  // New York springs forward at 02:00 on 2026-03-08: that day began at 05:00Z (EST), the next at 04:00Z (EDT).
  expect(startOfDayIn('America/New_York', new Date('2026-03-08T20:00:00Z')).toISOString()).toBe('2026-03-08T05:00:00.000Z');
  expect(nextDayStartIn('America/New_York', new Date('2026-03-08T20:00:00Z')).toISOString()).toBe('2026-03-09T04:00:00.000Z');
  expect(startOfDayIn('America/New_York', new Date('2026-11-01T12:00:00Z')).toISOString()).toBe('2026-11-01T04:00:00.000Z');
  expect(nextDayStartIn('America/New_York', new Date('2026-11-01T12:00:00Z')).toISOString()).toBe('2026-11-02T05:00:00.000Z');
});

describe('a fleet', () => {
  test('roles: invite and accept; admins invite but set no limits; members see their own part; bad input changes nothing', async () => {
    const before = await gw.db.fleet.count();
    expect((await call('owner', 'POST', '/v1/fleets', { name: 'Studio', time_zone: 'Mars/Olympus_Mons' })).json.error.param).toBe('time_zone');
    expect((await call(null, 'POST', '/v1/fleets', { name: 'Studio' })).status).toBe(401);
    expect(await gw.db.fleet.count()).toBe(before);

    const created = await call('owner', 'POST', '/v1/fleets', { name: 'Studio', time_zone: 'Asia/Tokyo' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ object: 'fleet', name: 'Studio', time_zone: 'Asia/Tokyo', payout_to: 'organization', your_role: 'owner' });
    fleetId = created.json.id;
    memberIds.owner = created.json.members[0].id;

    const inviteAdmin = await call('owner', 'POST', `/v1/fleets/${fleetId}/invites`, { email: 'Admin@Example.com', role: 'admin' });
    expect(inviteAdmin.status).toBe(201);
    expect(inviteAdmin.json.invite_url).toContain('/dashboard/?fleet_invite=trd_fi_');
    const accepted = await call('admin', 'POST', '/v1/fleet-invites/accept', { token: inviteAdmin.json.token });
    expect(accepted.status).toBe(200);
    memberIds.admin = inviteAdmin.json.member_id;
    // Used once: the same link does not let another account in.
    expect((await call('stranger', 'POST', '/v1/fleet-invites/accept', { token: inviteAdmin.json.token })).status).toBe(404);

    // An admin invites members, never owners, and sets no limits.
    expect((await call('admin', 'POST', `/v1/fleets/${fleetId}/invites`, { email: 'x@example.com', role: 'owner' })).status).toBe(403);
    const inviteMember = await call('admin', 'POST', `/v1/fleets/${fleetId}/invites`, { email: 'member@example.com' });
    expect(inviteMember.status).toBe(201);
    expect((await call('member', 'POST', '/v1/fleet-invites/accept', { token: inviteMember.json.token })).status).toBe(200);
    memberIds.member = inviteMember.json.member_id;
    const adminSets = await call('admin', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.member}`, { daily_cap_credits: 5 });
    expect(adminSets.status).toBe(403);
    expect(adminSets.json.error.message).toMatch(/only a fleet owner may do this; you are an admin/);

    const asMember = await call('member', 'GET', `/v1/fleets/${fleetId}`);
    expect(asMember.json.your_role).toBe('member');
    expect(asMember.json.members.map((m: { email: string }) => m.email)).toEqual(['member@example.com']);
    expect(asMember.json.balance_microcredits).toBeNull();
    expect((await call('stranger', 'GET', `/v1/fleets/${fleetId}`)).status).toBe(404);
    expect((await call('member', 'DELETE', `/v1/fleets/${fleetId}/members/${memberIds.admin}`)).status).toBe(403);

    const bad = await call('owner', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.member}`, { daily_cap_credits: -1 });
    expect(bad.status).toBe(400);
    expect((await gw.db.fleetMember.findUniqueOrThrow({ where: { id: memberIds.member } })).dailyCapMicrocredits).toBeNull();
  });

  test('the last owner is never removed or demoted, even by two owners removing each other at once', async () => {
    expect((await call('owner', 'DELETE', `/v1/fleets/${fleetId}/members/${memberIds.owner}`)).json.error.code).toBe('last_owner');
    expect((await call('owner', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.owner}`, { role: 'member' })).json.error.code).toBe('last_owner');
    // A second fleet with two owners who remove each other at the same moment.
    const f = (await call('admin', 'POST', '/v1/fleets', { name: 'Pair' })).json;
    const inv = (await call('admin', 'POST', `/v1/fleets/${f.id}/invites`, { email: 'second@example.com', role: 'owner' })).json;
    expect((await call('stranger', 'POST', '/v1/fleet-invites/accept', { token: inv.token })).status).toBe(200);
    const [a, b] = await Promise.all([
      call('admin', 'DELETE', `/v1/fleets/${f.id}/members/${inv.member_id}`),
      call('stranger', 'DELETE', `/v1/fleets/${f.id}/members/${f.members[0].id}`),
    ]);
    expect([a.status, b.status].filter((s) => s === 204)).toHaveLength(1);
    expect(await gw.db.fleetMember.count({ where: { fleetId: f.id, role: 'owner', removedAt: null } })).toBe(1);
  });

  const tokens: string[] = [];

  test('logins at once cannot pass a member’s runner limit; the runner endpoint refuses a runner over it', async () => {
    expect((await call('owner', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.member}`, { max_runners: 2 })).status).toBe(200);
    // Someone outside the fleet cannot approve a login into it.
    const codes = await call(null, 'POST', '/v1/runners/device-codes', { fleet: fleetId });
    const outsider = await call('stranger', 'POST', '/v1/runners/device-codes/approve', { user_code: codes.json.user_code });
    expect(outsider.status).toBe(403);
    expect(outsider.json.error.message).toMatch(/not a member of fleet/);

    // Five machines approved while the member has none; their CLIs claim their tokens at the same moment.
    const deviceCodes = [];
    for (let i = 0; i < 5; i++) deviceCodes.push(await approvedFleetLogin('member'));
    const polls = await Promise.all(deviceCodes.map(poll));
    const ok = polls.filter((p) => p.status === 200);
    expect(ok).toHaveLength(2);
    for (const p of polls.filter((x) => x.status !== 200)) {
      expect(p.status).toBe(409);
      expect(p.json.error).toMatchObject({ code: 'runner_limit' });
      expect(p.json.error.message).toMatch(/member@example.com already runs 2 runners in fleet .*the limit the fleet's owner set \(2\)/);
    }
    expect(await gw.db.runner.count({ where: { fleetMemberId: memberIds.member, tokenHash: { not: null } } })).toBe(2);
    const runners = await gw.db.runner.findMany({ where: { fleetMemberId: memberIds.member }, orderBy: { createdAt: 'asc' } });
    expect(runners.every((r) => r.ownerId === accounts.member && r.fleetId === fleetId)).toBe(true);
    // Oldest first, so the endpoint's choice below is the newer one.
    tokens.push(...[...ok].sort((x, y) => runners.findIndex((r) => r.id === x.json.runner_id) - runners.findIndex((r) => r.id === y.json.runner_id)).map((p) => p.json.token));

    // The owner lowers the limit: the runner endpoint cuts the newer runner off, and its heartbeat says why.
    expect((await call('owner', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.member}`, { max_runners: 1 })).status).toBe(200);
    const store = new EntitlementStore(gw.db, 60_000);
    for (const t of tokens) await call(null, 'POST', '/v1/runners/heartbeat', HEARTBEAT, t);
    const [first, second] = await Promise.all(tokens.map((t) => store.read(hashToken(t))));
    expect(first!.cutOff).toBeNull();
    expect(queueProblem(first!, 'model.trd-tiny.warm.probation')).toBeNull();
    expect(second!.cutOff).toMatch(/is over member@example.com's limit of 1 concurrent runner in fleet .*: revoke another of their runners, or ask the fleet's owner to raise the limit/);
    const beat = await call(null, 'POST', '/v1/runners/heartbeat', HEARTBEAT, tokens[1]);
    expect(beat.json.fleet).toMatchObject({ id: fleetId, hold: null, refused: second!.cutOff });
    // The refreshed view of every token in flight agrees.
    const refreshed = await store.refresh(tokens.map(hashToken));
    expect(refreshed.get(hashToken(tokens[1]))!.cutOff).toBe(second!.cutOff);
  });

  test('jobs settling at once pass the daily cap by less than one job’s earning; the member gets no new jobs until the fleet’s midnight', async () => {
    const runnerId = (await call(null, 'POST', '/v1/runners/heartbeat', HEARTBEAT, tokens[0])).json.runner_id as string;
    expect((await call('owner', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.member}`, { daily_cap_credits: 1 })).status).toBe(200);
    const charge = 300_000;
    const share = splitEarnings(charge, 'probation').runner;
    const jobs = Array.from({ length: 12 }, (_, i) => `job_cap_${i}`);
    const settle = (jobId: string) => gw.db.$transaction(async (tx) => postTransaction(tx, await jobSettlement(tx, jobId, 'cus_buyer', { workerId: runnerId, chargeMicrocredits: charge })));
    // All twelve at once: the member's row lock makes them settle one by one.
    expect(await Promise.all(jobs.map(settle))).toEqual(jobs.map(() => true));

    const earned = Number((await gw.db.accountBalance.findUniqueOrThrow({ where: { account: runnerAccount(runnerId) } })).balance);
    const toFleet = Number((await gw.db.accountBalance.findUnique({ where: { account: ownerAccount(fleetId) } }))?.balance ?? 0n);
    const cap = 1_000_000;
    // THE BOUND (economy/fleets.ts): at or past the cap, and past it by less than one job's runner share.
    expect(earned).toBeGreaterThanOrEqual(cap);
    expect(earned).toBeLessThan(cap + share);
    expect(earned + toFleet).toBe(12 * share);
    const notes = await gw.db.ledgerTransaction.findMany({ where: { id: { in: jobs.map((j) => `job:${j}`) }, note: { not: null } } });
    expect(notes).toHaveLength(12 - Math.ceil(cap / share));
    expect(notes[0].note).toMatch(/member member@example.com was at their daily cap of 1 credits: earned by the fleet/);
    // Settling again (an activity retried) changes nothing.
    expect(await Promise.all(jobs.slice(0, 3).map(settle))).toEqual([false, false, false]);

    const midnight = nextDayStartIn('Asia/Tokyo', new Date());
    const member = await gw.db.fleetMember.findUniqueOrThrow({ where: { id: memberIds.member } });
    expect(member.capReachedUntil!.toISOString()).toBe(midnight.toISOString());
    // The hold is one decision about the runner (not one per job that settled past the cap), to be signed into its chain.
    const capDecisions = await gw.db.runnerDecision.findMany({ where: { runnerId, kind: 'cap_reached' } });
    expect(capDecisions).toHaveLength(1);
    expect(capDecisions[0].detail).toMatchObject({ fleet_id: fleetId, member: 'member@example.com', cap_microcredits: cap, no_new_jobs_until: midnight.toISOString() });
    expect((capDecisions[0].detail as { earned_today_microcredits: number }).earned_today_microcredits).toBeGreaterThanOrEqual(cap);
    // The runner endpoint gives it no new work (it may finish what it holds); the heartbeat and `status` say why.
    const ent = await new EntitlementStore(gw.db, 60_000).read(hashToken(tokens[0]));
    expect(ent!.cutOff).toBeNull();
    expect(ent!.noNewWork).toMatch(new RegExp(`member@example.com reached their daily earning cap of 1 credits in fleet ${fleetId}: no new jobs until ${midnight.toISOString()} \\(00:00 Asia/Tokyo\\)`));
    expect((await call(null, 'POST', '/v1/runners/heartbeat', HEARTBEAT, tokens[0])).json.fleet.hold).toBe(ent!.noNewWork);
    expect((await call(null, 'GET', '/v1/runners/me', undefined, tokens[0])).json.fleet.hold).toBe(ent!.noNewWork);
    const view = (await call('owner', 'GET', `/v1/fleets/${fleetId}`)).json;
    const m = view.members.find((x: { id: string }) => x.id === memberIds.member);
    expect(m).toMatchObject({ cap_reached_until: midnight.toISOString(), earned_today_microcredits: earned, daily_cap_credits: 1, max_runners: 1 });
    expect(m.runners.find((r: { id: string }) => r.id === runnerId)).toMatchObject({ hold: ent!.noNewWork, earned_today_microcredits: earned, refused: null });
    // At the fleet's midnight the hold is over by itself.
    const [row] = await gw.db.runner.findMany({ where: { id: runnerId } });
    expect((await fleetStandings(gw.db, [row], new Date(midnight.getTime() + 1))).get(runnerId)!.hold).toBeNull();
    // A higher cap lifts it at once.
    await call('owner', 'PATCH', `/v1/fleets/${fleetId}/members/${memberIds.member}`, { daily_cap_credits: 100 });
    expect((await new EntitlementStore(gw.db, 60_000).read(hashToken(tokens[0])))!.noNewWork).toBeNull();
  });

  test('payouts go to the fleet’s account or to its members, by the fleet’s choice', async () => {
    const runnerId = (await call(null, 'POST', '/v1/runners/heartbeat', HEARTBEAT, tokens[0])).json.runner_id as string;
    const runnerEarned = Number((await gw.db.accountBalance.findUniqueOrThrow({ where: { account: runnerAccount(runnerId) } })).balance);
    const overCap = Number((await gw.db.accountBalance.findUniqueOrThrow({ where: { account: ownerAccount(fleetId) } })).balance);
    // Paid to the organization: the member's own balance leaves the fleet runner out; the fleet's counts it.
    expect((await call('member', 'GET', '/v1/me/balance')).json.earnings.balance_microcredits).toBe(0);
    expect((await call('owner', 'GET', `/v1/fleets/${fleetId}`)).json.balance_microcredits).toBe(runnerEarned + overCap);
    expect((await call('member', 'POST', '/v1/me/redemptions', { credits: 1, to: 'cash' })).status).toBe(402);
    expect((await call('admin', 'POST', `/v1/fleets/${fleetId}/redemptions`, { credits: 1, to: 'cash' })).status).toBe(403);
    const cash = await call('owner', 'POST', `/v1/fleets/${fleetId}/redemptions`, { credits: 1, to: 'cash' });
    expect(cash.status).toBe(201);
    // Queued for the payout workflow under the fleet's account (its payout rail pays it).
    expect(await gw.db.payoutRequest.findUniqueOrThrow({ where: { id: cash.json.id } })).toMatchObject({ ownerId: fleetId, credits: 1, status: 'queued' });

    // The choice is made before the fleet earns: switching now could pay the same credits twice.
    const switched = await call('owner', 'PATCH', `/v1/fleets/${fleetId}`, { payout_to: 'members' });
    expect(switched.json.error).toMatchObject({ code: 'payout_choice_fixed', param: 'payout_to' });

    // A fleet that pays its members: its runners' earnings are the member's to redeem, not the fleet's.
    const coop = (await call('owner', 'POST', '/v1/fleets', { name: 'Coop', payout_to: 'members' })).json;
    const inv = (await call('owner', 'POST', `/v1/fleets/${coop.id}/invites`, { email: 'member@example.com' })).json;
    expect((await call('member', 'POST', '/v1/fleet-invites/accept', { token: inv.token })).status).toBe(200);
    const claimed = await poll(await approvedFleetLogin('member', coop.id));
    expect(claimed.status).toBe(200);
    await gw.db.$transaction(async (tx) => postTransaction(tx, await jobSettlement(tx, 'job_coop', 'cus_buyer', { workerId: claimed.json.runner_id, chargeMicrocredits: 2_000_000 })));
    const coopEarned = splitEarnings(2_000_000, 'probation').runner;
    expect((await call('member', 'GET', '/v1/me/balance')).json.earnings.balance_microcredits).toBe(coopEarned);
    expect((await call('owner', 'GET', `/v1/fleets/${coop.id}`)).json.balance_microcredits).toBe(0);
    const mine = await call('member', 'POST', '/v1/me/redemptions', { credits: 1, to: 'cash' });
    expect(mine.status).toBe(201);
    expect((await gw.db.payoutRequest.findUniqueOrThrow({ where: { id: mine.json.id } })).ownerId).toBe(accounts.member);
  });

  test('a removed member’s runners are cut off', async () => {
    expect((await call('admin', 'DELETE', `/v1/fleets/${fleetId}/members/${memberIds.member}`)).status).toBe(204);
    expect(await gw.db.runner.count({ where: { fleetMemberId: memberIds.member, tokenHash: { not: null } } })).toBe(0);
    expect((await call(null, 'POST', '/v1/runners/heartbeat', HEARTBEAT, tokens[0])).status).toBe(401);
  });
});
