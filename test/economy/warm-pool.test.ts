/**
 * The warm-pool credit: the rules (who earns a minute, the rate, the target's
 * syntax), the activity on a real database (each minute decided once, under
 * retries and two replicas at once, the ledger balanced), and end to end on a
 * real runner: its idle heartbeats earn through the Schedule's workflow, and
 * the minute its schedule window closes (injected clock) earns nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findModel } from '@trd/protocol';
import { createWarmPoolActivities, demandTargets } from '../../activities/warm-pool-activities.js';
import { PLATFORM_REVENUE } from '../../economy/ledger.js';
import { WARM_POOL_SHARE_BPS, warmMinuteMicrocredits } from '../../economy/rates.js';
import { chooseWarmPool, DEMAND_DAYS, demandTarget, demandWindows, parseWarmPoolTarget, type WarmCandidate } from '../../economy/warm-pool.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { WARM_POOL_SCHEDULE_ID } from '../../platform/workflow-api.js';
import { recordDecisions } from '../../platform/runner-decisions.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { runScheduled } from '../support/schedules.js';
import { api, startStack, TEST_RUNNER_HEARTBEAT_MS, type TestStack } from '../support/stack.js';

const MINUTE = 60_000;

describe('the rules', () => {
  const c = (runnerId: string, reputation: number | null, idleModels = ['trd-tiny'], blocked = false): WarmCandidate => ({ runnerId, idleModels, reputation, blocked });

  test('up to the target per model, best reputation first, a runner once; faulted and blocked runners earn nothing', () => {
    const all = [c('r-b', 80), c('r-a', 90), c('r-d', 95), c('r-e', 99, ['trd-tiny'], true), c('r-q', 70, ['qwen2.5-0.5b-instruct', 'trd-tiny'])];
    const faulted = new Set(['r-d']);
    expect(chooseWarmPool(all, { 'trd-tiny': 1 }, faulted)).toEqual([{ runnerId: 'r-a', model: 'trd-tiny' }]);
    expect(chooseWarmPool(all, { 'trd-tiny': 2 }, faulted)).toEqual([
      { runnerId: 'r-a', model: 'trd-tiny' },
      { runnerId: 'r-b', model: 'trd-tiny' },
    ]);
    // r-q is counted for the first model of the target that wants it, and only once.
    expect(chooseWarmPool(all, { 'qwen2.5-0.5b-instruct': 1, 'trd-tiny': 9 }, faulted).map((x) => `${x.runnerId}:${x.model}`)).toEqual([
      'r-q:qwen2.5-0.5b-instruct',
      'r-a:trd-tiny',
      'r-b:trd-tiny',
    ]);
    // Equal reputations are ordered by id, so every replica decides alike.
    expect(chooseWarmPool([c('r-2', null), c('r-1', null)], { 'trd-tiny': 1 }, new Set())).toEqual([{ runnerId: 'r-1', model: 'trd-tiny' }]);
    expect(chooseWarmPool(all, {}, faulted)).toEqual([]);
  });

  test('the rate: 10% of a busy hour of the model, per minute, rounded down', () => {
    expect(WARM_POOL_SHARE_BPS).toBe(1_000);
    expect(warmMinuteMicrocredits(6)).toBe(10_000);
    expect(warmMinuteMicrocredits(36)).toBe(60_000);
    expect(warmMinuteMicrocredits(7)).toBe(11_666);
    expect(() => warmMinuteMicrocredits(1.5)).toThrow(/non-negative integer/);
  });

  test.each([
    ['trd-tiny', /is not model=runners or model=auto\[:max\]/],
    ['trd-tiny=0', /must be 1 to 10000/],
    ['trd-tiny=auto:0', /trd-tiny=auto:0: runners must be 1 to 10000/],
    ['trd-tiny=auto:', /is not model=runners/],
    ['trd-tiny=automatic', /is not model=runners/],
    ['trd-tiny=auto,trd-tiny=1', /given twice/],
    ['gpt-17=2', /not a catalog model/],
    ['trd-tiny=1,trd-tiny=2', /given twice/],
    ['trd-tiny=-1', /is not model=runners/],
  ])('TRD_WARM_POOL_TARGET %s is refused with a clear message', (spec, message) => {
    expect(() => parseWarmPoolTarget(spec)).toThrow(message);
  });

  test('a target parses to runners per model, fixed or derived from demand', () => {
    expect(parseWarmPoolTarget(' trd-tiny = 2 , qwen2.5-0.5b-instruct=1 ')).toEqual({ target: { 'trd-tiny': 2, 'qwen2.5-0.5b-instruct': 1 }, auto: {} });
    expect(parseWarmPoolTarget('trd-tiny=auto,qwen2.5-0.5b-instruct=auto:3')).toEqual({ target: {}, auto: { 'trd-tiny': 10_000, 'qwen2.5-0.5b-instruct': 3 } });
  });

  test('a demand-derived target: the jobs running at once on average in that hour of day, rounded up, at most the max', () => {
    const hours = (h: number) => h * 3_600_000;
    expect(demandTarget(0, 5)).toBe(0);
    expect(demandTarget(1, 5)).toBe(1);
    expect(demandTarget(hours(DEMAND_DAYS), 5)).toBe(1);
    expect(demandTarget(hours(DEMAND_DAYS) + 1, 5)).toBe(2);
    expect(demandTarget(hours(DEMAND_DAYS * 40), 5)).toBe(5);
    const windows = demandWindows(new Date('2026-12-03T07:42:10Z'));
    expect(windows).toHaveLength(DEMAND_DAYS);
    expect(windows[0]).toEqual({ gte: new Date('2026-12-02T07:00:00Z'), lt: new Date('2026-12-02T08:00:00Z') });
    expect(windows[DEMAND_DAYS - 1]).toEqual({ gte: new Date('2026-11-26T07:00:00Z'), lt: new Date('2026-11-26T08:00:00Z') });
  });
});

describe('on a real stack', () => {
  let stack: TestStack;
  let token: string;
  const dir = mkdtempSync(join(tmpdir(), 'warm-pool-'));
  const clock = join(dir, 'clock');
  const perMinute = warmMinuteMicrocredits(findModel('trd-tiny')!.creditsPerHour);
  let runner: Awaited<ReturnType<TestStack['startRunner']>>;
  let readyAt: number;

  beforeAll(async () => {
    // Sealed with the fixtures' key, so the recorded history replays in test/workflows/replay.
    stack = await startStack({ warmPool: { target: 'trd-tiny=1', settleMs: 0, lookbackMinutes: 30 }, payloadKeys: FIXTURE_PAYLOAD_KEYS });
    token = await createRunnerToken(stack.db, 'warm-live');
    writeFileSync(clock, '2026-11-25T23:00:00Z');
    runner = await stack.startRunner({ workerId: 'warm-live', token, env: { TRD_CLOCK_FILE: clock } });
    readyAt = Date.now();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const warmCredits = (runnerId: string) => stack.db.ledgerTransaction.findMany({ where: { kind: 'warm_pool_credit', id: { startsWith: `warm:${runnerId}:` } }, include: { entries: true } });

  test('the activity: one minute decided once, under a retry and two replicas at once; the ledger balances', async () => {
    // A job for D's refused result to belong to (written directly: the live runner must stay idle for the next test).
    const customerId = (await stack.db.apiKey.findFirstOrThrow()).customerId;
    const job = await stack.db.job.create({
      data: { id: 'job_warmpoolfault', customerId, model: 'trd-tiny', promptSha256: '0'.repeat(64), maxTokens: 4, temperature: 0, status: 'failed', acceptedAt: new Date() },
    });
    for (const id of ['warm-a', 'warm-b', 'warm-c', 'warm-d', 'warm-e']) await createRunnerToken(stack.db, id);
    await stack.db.runner.update({ where: { id: 'warm-a' }, data: { reputationScore: 90 } });
    await stack.db.runner.update({ where: { id: 'warm-b' }, data: { reputationScore: 80 } });
    await stack.db.runner.update({ where: { id: 'warm-d' }, data: { reputationScore: 95 } });
    await stack.db.runner.update({ where: { id: 'warm-e' }, data: { reputationScore: 99, shadowbannedReason: 'seeded' } });
    // A minute well before the live runner's: A, B, D and E idle with trd-tiny loaded, C busy, D with a refused result in it.
    const minute = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 40 * MINUTE);
    await stack.db.runnerUptimeMinute.createMany({
      data: [
        { runnerId: 'warm-a', minute, warm: true, idleModels: ['trd-tiny'] },
        { runnerId: 'warm-b', minute, warm: true, idleModels: ['trd-tiny'] },
        { runnerId: 'warm-c', minute, warm: true, idleModels: [] },
        { runnerId: 'warm-d', minute, warm: true, idleModels: ['trd-tiny'] },
        { runnerId: 'warm-e', minute, warm: true, idleModels: ['trd-tiny'] },
      ],
    });
    await stack.db.jobAttempt.create({ data: { id: `${job.id}:9`, jobId: job.id, workerId: 'warm-d', outcome: 'invalid_result', detail: 'seeded', createdAt: new Date(minute.getTime() + 20_000) } });

    const { creditWarmMinutes } = createWarmPoolActivities({ db: stack.db });
    // Run as of just after that minute: it alone (of the lookback) has candidates.
    const run = { target: { 'trd-tiny': 2 }, settleMs: 0, lookbackMinutes: 5, now: new Date(minute.getTime() + MINUTE + 1000).toISOString() };
    const [one, two] = await Promise.all([creditWarmMinutes(run), creditWarmMinutes(run)]);
    expect(one.minutes + two.minutes).toBe(5);
    expect(one.credits + two.credits).toBe(2);
    expect(one.microcredits + two.microcredits).toBe(2 * perMinute);
    expect(await creditWarmMinutes(run)).toEqual({ minutes: 0, credits: 0, microcredits: 0 });
    const posted = await stack.db.ledgerTransaction.findMany({ where: { kind: 'warm_pool_credit', id: { endsWith: `:${minute.toISOString()}` } }, include: { entries: true } });
    expect(posted.map((t) => t.id).sort()).toEqual([`warm:warm-a:${minute.toISOString()}`, `warm:warm-b:${minute.toISOString()}`]);
    for (const t of posted) {
      expect(t.entries.map((e) => [e.account, Number(e.amount)]).sort()).toEqual([[PLATFORM_REVENUE, -perMinute], [t.id.split(':').slice(0, 2).join(':').replace('warm:', 'runner:'), perMinute]].sort());
    }
    // Every balance is still the sum of its entries.
    await expectBalanced();
  });

  test('the activity with a demand-derived target: as many idle runners as the hour usually has jobs running', async () => {
    const customerId = (await stack.db.apiKey.findFirstOrThrow()).customerId;
    // After the first test's minutes, before the live stack's Schedule looked back (30 minutes from its start).
    const minute = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 37 * MINUTE);
    // Eight hours of billed compute in this hour of day over the last week (average 8/7 running at once: a target of 2),
    // and more at other hours and of another model, which do not count.
    const [window] = demandWindows(minute);
    const job = (id: string, model: string, acceptedAt: Date, billableMs: number) => ({ id, customerId, model, promptSha256: '0'.repeat(64), maxTokens: 4, temperature: 0, status: 'succeeded' as const, acceptedAt, billableMs });
    await stack.db.job.createMany({
      data: [
        ...Array.from({ length: 8 }, (_, i) => job(`job_demand_${i}`, 'trd-tiny', new Date(window!.gte.getTime() + i * 60_000), 3_600_000)),
        job('job_demand_other_hour', 'trd-tiny', new Date(window!.gte.getTime() - 60_000), 50 * 3_600_000),
        job('job_demand_other_model', 'qwen2.5-0.5b-instruct', window!.gte, 50 * 3_600_000),
      ],
    });
    expect(await demandTargets(stack.db, { 'trd-tiny': 5 }, minute)).toEqual({ 'trd-tiny': 2 });
    expect(await demandTargets(stack.db, { 'trd-tiny': 1 }, minute)).toEqual({ 'trd-tiny': 1 });

    for (const id of ['warm-f', 'warm-g', 'warm-h']) await createRunnerToken(stack.db, id);
    await stack.db.runner.update({ where: { id: 'warm-h' }, data: { reputationScore: 10 } });
    await stack.db.runnerUptimeMinute.createMany({ data: ['warm-f', 'warm-g', 'warm-h'].map((runnerId) => ({ runnerId, minute, warm: true, idleModels: ['trd-tiny'] })) });
    const { creditWarmMinutes } = createWarmPoolActivities({ db: stack.db });
    const result = await creditWarmMinutes({ target: {}, auto: { 'trd-tiny': 5 }, settleMs: 0, lookbackMinutes: 1, now: new Date(minute.getTime() + MINUTE + 1000).toISOString() });
    expect(result).toMatchObject({ minutes: 1, credits: 2 });
    const posted = await stack.db.ledgerTransaction.findMany({ where: { kind: 'warm_pool_credit', id: { endsWith: `:${minute.toISOString()}` } } });
    // The two best: unrated runners sort below a rated one.
    expect(posted.map((t) => t.id).sort()).toEqual([`warm:warm-f:${minute.toISOString()}`, `warm:warm-h:${minute.toISOString()}`]);
    await expectBalanced();
  });

  test('a runner held at its fleet member’s daily cap earns no warm minute; one whose hold was lifted does', async () => {
    const minute = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 34 * MINUTE);
    const until = new Date(minute.getTime() + 3 * 3_600_000);
    await stack.db.fleet.create({ data: { id: 'fleet-warm', timeZone: 'UTC' } });
    await stack.db.fleetMember.createMany({
      data: [
        { id: 'fm-held', fleetId: 'fleet-warm', role: 'member', email: 'held@example.com', capReachedUntil: until },
        { id: 'fm-lifted', fleetId: 'fleet-warm', role: 'member', email: 'lifted@example.com', capReachedUntil: null },
      ],
    });
    for (const [runnerId, memberId] of [['warm-i', 'fm-held'], ['warm-j', 'fm-lifted']] as const) {
      await createRunnerToken(stack.db, runnerId);
      await stack.db.runner.update({ where: { id: runnerId }, data: { fleetMemberId: memberId } });
      await recordDecisions(stack.db, [{ runnerId, kind: 'cap_reached', key: `cap:${memberId}:${until.toISOString()}`, detail: { no_new_jobs_until: until.toISOString() }, at: new Date(minute.getTime() - 10 * MINUTE) }]);
    }
    await stack.db.runnerUptimeMinute.createMany({ data: ['warm-i', 'warm-j'].map((runnerId) => ({ runnerId, minute, warm: true, idleModels: ['trd-tiny'] })) });
    const { creditWarmMinutes } = createWarmPoolActivities({ db: stack.db });
    expect(await creditWarmMinutes({ target: { 'trd-tiny': 5 }, settleMs: 0, lookbackMinutes: 1, now: new Date(minute.getTime() + MINUTE + 1000).toISOString() })).toMatchObject({ minutes: 1, credits: 1 });
    const posted = await stack.db.ledgerTransaction.findMany({ where: { kind: 'warm_pool_credit', id: { endsWith: `:${minute.toISOString()}` } } });
    expect(posted.map((t) => t.id)).toEqual([`warm:warm-j:${minute.toISOString()}`]);
  });

  const expectBalanced = async () => {
    const sums = await stack.db.ledgerEntry.groupBy({ by: ['account'], _sum: { amount: true } });
    for (const b of await stack.db.accountBalance.findMany()) expect(b.balance).toBe(sums.find((s) => s.account === b.account)?._sum.amount ?? 0n);
  };

  test('live: idle minutes earn through the Schedule; the minute the schedule window closes earns nothing; the owner sees it', async () => {
    // An idle minute that has ended: the runner heartbeats every second, idle with trd-tiny loaded, and never had a job.
    // The first minute wholly after the runner was ready, once it has ended: its starting beat (not idle) can come many
    // seconds before it is ready on a loaded machine, so the minute it became ready in may hold one (a fresh CI run's did).
    const thisMinute = () => Math.floor(Date.now() / MINUTE) * MINUTE;
    const started = Math.floor(readyAt / MINUTE) * MINUTE + MINUTE;
    while (Date.now() < started + MINUTE + TEST_RUNNER_HEARTBEAT_MS) await new Promise((r) => setTimeout(r, 500));
    const idle = await stack.db.runnerUptimeMinute.findUniqueOrThrow({ where: { runnerId_minute: { runnerId: 'warm-live', minute: new Date(started) } } });
    expect(idle.idleModels).toEqual(['trd-tiny']);

    const { result, workflowId } = await runScheduled<{ minutes: number; credits: number }>(stack, WARM_POOL_SCHEDULE_ID, 'warmPoolCredits');
    expect(result.credits).toBeGreaterThanOrEqual(1);
    expect((await warmCredits('warm-live')).map((t) => t.id)).toContain(`warm:warm-live:${new Date(started).toISOString()}`);
    if (process.env.TRD_RECORD_HISTORIES) {
      writeFileSync(new URL('../fixtures/histories/warm-pool-credits.json', import.meta.url), `${historyToJSON(await stack.client.workflow.getHandle(workflowId).fetchHistory())}\n`);
    }

    // The owner's window closes (the injected clock): paused, then unloaded; that minute is not idle throughout.
    await api(stack, 'PUT', '/v1/runners/settings', { schedule: { timezone: 'UTC', windows: [{ start: '22:00', end: '06:00' }] } }, token);
    await new Promise((r) => setTimeout(r, TEST_RUNNER_HEARTBEAT_MS * 2.5));
    writeFileSync(clock, '2026-11-26T06:00:00Z');
    await runner.waitFor(/unloaded trd-tiny: outside the schedule/, 15_000);
    const closedIn = thisMinute();
    await new Promise((r) => setTimeout(r, TEST_RUNNER_HEARTBEAT_MS * 2.5));
    const closed = await stack.db.runnerUptimeMinute.findUniqueOrThrow({ where: { runnerId_minute: { runnerId: 'warm-live', minute: new Date(closedIn) } } });
    expect(closed.idleModels).toEqual([]);
    const { creditWarmMinutes } = createWarmPoolActivities({ db: stack.db });
    await creditWarmMinutes({ target: { 'trd-tiny': 1 }, settleMs: 0, lookbackMinutes: 30, now: new Date(closedIn + MINUTE + 1000).toISOString() });
    expect(await stack.db.warmPoolMinute.findUnique({ where: { minute: new Date(closedIn) } })).not.toBeNull();
    expect((await warmCredits('warm-live')).map((t) => t.id)).not.toContain(`warm:warm-live:${new Date(closedIn).toISOString()}`);

    // What the owner reads: `trd-worker status`'s source and the dashboard's overview.
    const credited = (await warmCredits('warm-live')).filter((t) => t.createdAt >= new Date(new Date().setUTCHours(0, 0, 0, 0)));
    const me = (await api(stack, 'GET', '/v1/runners/me', undefined, token)).json;
    expect(me.today.warm_pool).toEqual({ minutes: credited.length, earned_microcredits: credited.length * perMinute });
  }, 200_000);
});
