/**
 * Reputation and trust tiers on the real stack, with the orchestrator's clock
 * moved through days: a runner whose results are refused drops a tier and is
 * shadowbanned (it stops taking jobs and says why); a clean runner is
 * promoted to Verified after a week and to Trusted after 90 clean days. The
 * sweep runs through its Temporal Schedule. Also: the formula, the worker
 * card and the earnings estimate.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decideTier, reputationScore, tierPolicy } from '../../economy/reputation.js';
import { REPUTATION_SCHEDULE_ID } from '../../platform/workflow-api.js';
import { measuredPerformance } from '../../activities/reputation-activities.js';
import { createRunnerToken } from '../../gateway/runners.js';
import type { ManagedProcess } from '../../devstack/processes.js';
import { runScheduled } from '../support/schedules.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

const DAY = 86_400_000;
let stack: TestStack;
let offsetMs = 0;
let cheat: ManagedProcess;
let cheatToken: string;
let honestToken: string;

beforeAll(async () => {
  stack = await startStack({
    jobLimits: { deadlineMs: 8000, maxAttempts: 3 },
    reputation: { policy: { verifiedMinJobs: 3, trustedMinJobs: 5 } },
    clock: () => new Date(Date.now() + offsetMs),
  });
  cheatToken = await createRunnerToken(stack.db, 'rep-cheat', 'verified');
  cheat = await stack.startRunner({ workerId: 'rep-cheat', token: cheatToken, env: { TRD_RUNNER_FAULTS: 'bad-result=1' } });
});

afterAll(async () => {
  await stack?.stop();
});

/** A sweep now, through its schedule. */
const sweep = () => runScheduled(stack, REPUTATION_SCHEDULE_ID, 'reputationSweep');

async function uptimeFor(runnerId: string, fromMs: number, toMs: number): Promise<void> {
  const data = [];
  for (let t = Math.floor(fromMs / 60_000) * 60_000; t <= toMs; t += 60_000) data.push({ runnerId, minute: new Date(t) });
  await stack.db.runnerUptimeMinute.createMany({ data, skipDuplicates: true });
}

const runner = (id: string) => stack.db.runner.findUniqueOrThrow({ where: { id } });

describe('the reputation formula and tier rules', () => {
  const clean = { completed: 100, refused: 0, uptimeMinutes: 10_080, expectedMinutes: 10_080, p99MsPerToken: 20, classP99MsPerToken: 20, auditsPassed: 0, auditsFailed: 0 };
  test('a clean record scores 100; each factor weighs as stated', () => {
    expect(reputationScore(clean)).toBe(100);
    expect(reputationScore({ ...clean, uptimeMinutes: 5040 })).toBe(90);
    expect(reputationScore({ ...clean, p99MsPerToken: 40 })).toBe(93);
    expect(reputationScore({ ...clean, auditsFailed: 2 })).toBe(90);
    expect(reputationScore({ ...clean, completed: 0, refused: 9 })).toBe(60);
  });
  test('promotion needs score, jobs, age and clean audits; a low score shadowbans', () => {
    const p = tierPolicy({});
    const good = { score: 97, jobs: 2000, ageDays: 100, cleanDays: 100, failedAuditDaysAgo: null };
    expect(decideTier('probation', null, { ...good, ageDays: 3, cleanDays: 3 }, p).tier).toBe('probation');
    expect(decideTier('probation', null, { ...good, jobs: 50 }, p).tier).toBe('probation');
    expect(decideTier('probation', null, { ...good, jobs: 500, cleanDays: 30 }, p)).toMatchObject({ tier: 'verified', badgeCountdownDays: 60 });
    expect(decideTier('verified', null, good, p)).toMatchObject({ tier: 'trusted', badgeCountdownDays: 0 });
    expect(decideTier('trusted', null, { ...good, cleanDays: 2, failedAuditDaysAgo: 2 }, p).tier).toBe('probation');
    expect(decideTier('trusted', null, { ...good, cleanDays: 30, failedAuditDaysAgo: 30 }, p).tier).toBe('verified');
    // A tier given at registration is not taken away for being new.
    expect(decideTier('trusted', null, { ...good, jobs: 1, ageDays: 0, cleanDays: 0 }, p).tier).toBe('trusted');
    expect(decideTier('verified', null, { ...good, score: 30 }, p)).toMatchObject({ tier: 'probation', shadowbannedReason: expect.stringContaining('reputation 30 is below 50') });
    expect(decideTier('probation', 'earlier', { ...good, score: 55 }, p).shadowbannedReason).toBe('earlier');
    expect(decideTier('probation', 'earlier', { ...good, score: 65 }, p).shadowbannedReason).toBeNull();
  });
});

describe('tiers on the running platform', () => {
  test('a runner whose results are refused drops a tier, is shadowbanned, stops taking jobs and says why', async () => {
    const jobs = await Promise.all([0, 1, 2, 3].map((i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `cheat ${i}`, max_tokens: 4 })));
    for (const j of jobs) await waitForJob(stack, j.json.id, (x) => x.status === 'failed', 30_000);
    // Each refused result is a failed audit with its evidence; re-execution audits (another runner, same seed) add theirs.
    const refused = await stack.db.runnerAudit.count({ where: { runnerId: 'rep-cheat', passed: false } });
    expect(refused).toBeGreaterThanOrEqual(4);
    await stack.db.runnerAudit.createMany({
      data: [1, 2, 3, 4, 5, 6].map((n) => ({ id: `reexec-${n}`, runnerId: 'rep-cheat', passed: false, detail: 'output differs from a re-execution with the same model, seed and sampling' })),
    });
    await sweep();
    const r = await runner('rep-cheat');
    expect(r.tier).toBe('probation');
    expect(r.reputationScore).toBeLessThan(50);
    expect(r.shadowbannedReason).toMatch(/^reputation \d+ is below 50/);
    // The runner hears it with its next heartbeat and stops taking work.
    await cheat.waitFor(/not taking new jobs: shadowbanned by the platform: reputation \d+ is below 50/, 10_000);
    const me = await fetch(`${stack.baseUrl}/v1/runners/me`, { headers: { authorization: `Bearer ${cheatToken}` } });
    expect((await me.json()).shadowbanned).toBe(r.shadowbannedReason);
    const eligible = (await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny')).json;
    expect(JSON.stringify(eligible)).not.toContain('rep-cheat');
  });

  test('a clean runner is promoted to Verified after a week, and to Trusted after 90 clean days', async () => {
    honestToken = await createRunnerToken(stack.db, 'rep-honest');
    await stack.startRunner({ workerId: 'rep-honest', token: honestToken });
    const jobs = await Promise.all([0, 1, 2, 3, 4].map((i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `honest ${i}`, max_tokens: 6 })));
    for (const j of jobs) expect((await waitForJob(stack, j.json.id, (x) => x.status === 'succeeded')).worker_id).toBe('rep-honest');
    await sweep();
    expect((await runner('rep-honest')).tier).toBe('probation');

    offsetMs = 8 * DAY;
    await uptimeFor('rep-honest', Date.now() + offsetMs - 7 * DAY, Date.now() + offsetMs);
    await sweep();
    expect(await runner('rep-honest')).toMatchObject({ tier: 'verified' });

    offsetMs = 91 * DAY;
    await uptimeFor('rep-honest', Date.now() + offsetMs - 7 * DAY, Date.now() + offsetMs);
    await sweep();
    const r = await runner('rep-honest');
    expect(r).toMatchObject({ tier: 'trusted', shadowbannedReason: null });
    expect(r.reputationScore).toBeGreaterThanOrEqual(95);
    // The cheat stays where it fell.
    expect((await runner('rep-cheat')).tier).toBe('probation');
  });
});

describe('measured, not claimed', () => {
  test('a runner claiming an H100 is classed by the speed the platform timed on its bench challenges', async () => {
    const claim = await fetch(`${stack.baseUrl}/v1/runners/bench`, {
      method: 'POST',
      headers: { authorization: `Bearer ${honestToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'trd-tiny', hardware_class: 'h100', runs: 3, prompt_tokens_per_second: { median: 90_000, min: 90_000, max: 90_000 }, generation_tokens_per_second: { median: 50_000, min: 50_000, max: 50_000 } }),
    });
    expect(claim.status).toBeLessThan(300);
    await sweep();
    const challenges = await stack.db.benchChallenge.findMany({ where: { runnerId: 'rep-honest' } });
    expect(challenges.length).toBeGreaterThan(0);
    expect(challenges.every((c) => c.completionTokens > 0 && c.elapsedMs > 0)).toBe(true);
    const card = (await api(stack, 'GET', '/v1/workers/rep-honest/card')).json;
    expect(card.claimed_class).toBe('h100');
    expect(card.measured_class.key).toBe('m3-pro');
    // The shadowbanned runner was not sent one.
    expect(await stack.db.benchChallenge.count({ where: { runnerId: 'rep-cheat', createdAt: { gt: challenges[0].createdAt } } })).toBe(0);
  });

  test('a slow runner that claims an H100, in its bench and in its jobs\' timings, is classed by the speed the platform timed', async () => {
    const slowToken = await createRunnerToken(stack.db, 'rep-slow');
    const slow = await stack.startRunner({ workerId: 'rep-slow', token: slowToken, env: { TRD_RUNNER_FAULTS: 'token-delay-ms=25' } });
    try {
      await fetch(`${stack.baseUrl}/v1/runners/bench`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slowToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'trd-tiny', hardware_class: 'h100', runs: 3, prompt_tokens_per_second: { median: 900_000, min: 900_000, max: 900_000 }, generation_tokens_per_second: { median: 500_000, min: 500_000, max: 500_000 } }),
      });
      // Jobs as a lying runner reports them: 1,024 tokens in 1 ms each, an H100's speed even on the tiny model (its 620 KB scale
      // the speed down to the reference model's, economy/rates.ts).
      const customerId = (await stack.db.customer.findFirstOrThrow()).id;
      const now = new Date(Date.now() + offsetMs);
      await stack.db.job.createMany({
        data: Array.from({ length: 30 }, (_, i) => ({
          id: `job_slowclaim${i}`, customerId, model: 'trd-tiny', promptSha256: '0'.repeat(64), maxTokens: 1024, temperature: 0, status: 'succeeded' as const,
          workerId: 'rep-slow', completionTokens: 1024, generationMs: 1, acceptedAt: now, finishedAt: now,
        })),
      });
      // Untimed, its own telemetry would class it as it claims.
      expect((await measuredPerformance(stack.db, ['rep-slow'])).get('rep-slow')!.classKey).toBe('h100');

      await sweep();
      const timed = await stack.db.benchChallenge.findMany({ where: { runnerId: { in: ['rep-slow', 'rep-honest'] } }, orderBy: { createdAt: 'desc' } });
      const speed = (id: string) => { const c = timed.find((t) => t.runnerId === id)!; return (c.completionTokens * 1000) / c.elapsedMs; };
      // 25 ms a token: at most 40 tokens/s as the platform timed it, well below the honest runner on the same machine.
      expect(speed('rep-slow')).toBeLessThan(40);
      expect(speed('rep-slow')).toBeLessThan(speed('rep-honest') / 2);
      const card = (await api(stack, 'GET', '/v1/workers/rep-slow/card')).json;
      expect(card).toMatchObject({ claimed_class: 'h100', measured_class: { key: 'm3-pro' } });
    } finally {
      await slow.stop();
    }
  });
});

describe('public cards and the estimate', () => {
  test('the worker card (JSON and HTML) shows the measured record', async () => {
    const card = (await api(stack, 'GET', '/v1/workers/rep-honest/card')).json;
    expect(card).toMatchObject({ object: 'worker_card', worker_id: 'rep-honest', tier: 'trusted', jobs_completed: 5, success_rate: 1, measured_class: { key: 'm3-pro' } });
    expect(card.p99_ms_per_token).toBeGreaterThan(0);
    const html = await (await fetch(`${stack.baseUrl}/v1/workers/rep-honest/card.html`)).text();
    expect(html).toContain('100% reliable, 5 jobs');
    expect(html).toContain('M2/M3 Pro-class');
    const cheatCard = (await api(stack, 'GET', '/v1/workers/rep-cheat/card')).json;
    expect(cheatCard).toMatchObject({ jobs_completed: 0, success_rate: 0, verified_badge: { earned: false } });
    expect((await api(stack, 'GET', '/v1/workers/nobody-here/card')).status).toBe(404);
  });

  test('the estimate prices an hour of a class, with the trust multiplier, and refuses bad input', async () => {
    expect((await api(stack, 'GET', '/v1/estimate?tier=rtx-3090&hours=10')).json).toMatchObject({ credits_per_hour: 60, credits: 600, usd_cents: 480, trust: 'verified' });
    expect((await api(stack, 'GET', '/v1/estimate?tier=rtx-3090&hours=1&trust=trusted')).json.credits_per_hour).toBe(69);
    for (const q of ['tier=gtx-480&hours=1', 'tier=h100&hours=-1', 'tier=h100', 'tier=h100&hours=10000']) {
      const bad = await api(stack, 'GET', `/v1/estimate?${q}`);
      expect(bad.status).toBe(400);
    }
  });
});
