/**
 * The owner's plots and the public card's uptime strip, on a real stack: a
 * runner earns from real jobs (one of them moved back three days, with a
 * refused result that day), a second runner's past is written as its
 * heartbeats would have; the history API is checked against the ledger and
 * the jobs, the dashboard draws it in Chromium and follows a new job live,
 * and the card shows each day's uptime. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const dayStart = (t: number) => Math.floor(t / DAY) * DAY;
const hourStart = (t: number) => Math.floor(t / HOUR) * HOUR;
let stack: TestStack;
let browser: Browser;
let page: Page;
let runnerA: string;
let runnerB: string;
let tokenA: string;
let movedJob: string;
const now = Date.now();
const threeDaysAgo = now - 3 * DAY;
/** Runner B's seeded warm hour: 30 warm minutes and 10 others. */
const warmHour = hourStart(now) - 2 * HOUR;

async function register(email: string): Promise<{ runner_id: string; token: string }> {
  const code = (await api(stack, 'POST', '/v1/runners/device-codes', { email }, null)).json;
  expect((await api(stack, 'POST', '/v1/runners/device-codes/approve', { user_code: code.user_code })).status).toBe(200);
  return (await api(stack, 'POST', '/v1/runners/device-token', { device_code: code.device_code }, null)).json;
}

async function runJob(prompt: string): Promise<any> {
  const job = (await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt, max_tokens: 16 })).json;
  expect(job).toMatchObject({ status: 'succeeded', worker_id: runnerA });
  return job;
}

beforeAll(async () => {
  stack = await startStack({ settings: { dashboard: { sessionTtlMs: 3_600_000, pushIntervalMs: 250 } } });
  ({ runner_id: runnerA, token: tokenA } = await register('a@example.com'));
  ({ runner_id: runnerB } = await register('b@example.com'));
  await stack.startRunner({ workerId: runnerA, token: tokenA });
  const jobs = [await runJob('First of three'), await runJob('Second of three'), await runJob('Third of three')];
  // The first job finished three days ago, with a result of A's refused that day.
  movedJob = jobs[0].id;
  await stack.db.job.update({ where: { id: movedJob }, data: { finishedAt: new Date(threeDaysAgo) } });
  await stack.db.ledgerTransaction.updateMany({ where: { jobId: movedJob }, data: { createdAt: new Date(threeDaysAgo) } });
  await stack.db.jobAttempt.create({ data: { id: `${movedJob}:9`, jobId: movedJob, workerId: runnerA, outcome: 'invalid_result', detail: 'seeded refusal', createdAt: new Date(threeDaysAgo) } });
  // B joined three days ago; two days ago it was up half the day; two hours ago, 40 minutes, 30 of them warm.
  await stack.db.runner.update({ where: { id: runnerB }, data: { createdAt: new Date(dayStart(threeDaysAgo)) } });
  const halfDay = Array.from({ length: 720 }, (_, i) => ({ runnerId: runnerB, minute: new Date(dayStart(now - 2 * DAY) + i * MINUTE), warm: false }));
  const hour = Array.from({ length: 40 }, (_, i) => ({ runnerId: runnerB, minute: new Date(warmHour + i * MINUTE), warm: i < 30 }));
  await stack.db.runnerUptimeMinute.createMany({ data: [...halfDay, ...hour] });
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const history = async () => (await api(stack, 'GET', '/v1/owner/history')).json;

test('a heartbeat with a model loaded makes its minute warm', async () => {
  const minutes = await stack.db.runnerUptimeMinute.findMany({ where: { runnerId: runnerA } });
  expect(minutes.length).toBeGreaterThan(0);
  expect(minutes.some((m) => m.warm)).toBe(true);
  // Whole minutes, UTC, as the heartbeat wrote them through raw SQL.
  for (const m of minutes) expect(m.minute.getTime() % MINUTE).toBe(0);
  expect(Math.abs(Math.max(...minutes.map((m) => m.minute.getTime())) - now)).toBeLessThan(5 * MINUTE);
});

test('the history API agrees with the ledger, the jobs and the uptime minutes', async () => {
  expect((await api(stack, 'GET', '/v1/owner/history', undefined, null)).status).toBe(401);
  const h = await history();
  expect(h.object).toBe('owner_history');
  expect(h.days).toHaveLength(30);
  expect(h.hours).toHaveLength(168);
  expect(h.runners.map((r: any) => r.id).sort()).toEqual([runnerA, runnerB].sort());
  const a = h.runners.find((r: any) => r.id === runnerA);
  const b = h.runners.find((r: any) => r.id === runnerB);
  const day = (t: number) => h.days.indexOf(new Date(dayStart(t)).toISOString());
  const hourAt = (t: number) => h.hours.indexOf(new Date(hourStart(t)).toISOString());

  // Earnings by the day of their ledger transaction: what the ledger says, day by day.
  const entries = await stack.db.ledgerEntry.findMany({ where: { account: `runner:${runnerA}`, amount: { gt: 0 } }, include: { transaction: true } });
  const expected = new Array(30).fill(0);
  for (const e of entries) expected[day(e.transaction.createdAt.getTime())] += Number(e.amount);
  expect(a.earned_microcredits).toEqual(expected);
  expect(a.earned_microcredits[day(threeDaysAgo)]).toBeGreaterThan(0);
  expect(h.fleet.earned_microcredits).toEqual(expected);

  // Jobs by the hour they finished: the moved one three days back, the other two now.
  expect(a.jobs.reduce((s: number, x: number) => s + x, 0)).toBe(3);
  expect(a.jobs[hourAt(threeDaysAgo)]).toBe(1);
  // Reliability: that day one job done and one result refused.
  expect(a.reliability[day(threeDaysAgo)]).toBe(0.5);
  expect(a.reliability[day(now)]).toBe(1);
  expect(a.reliability[day(now - DAY)] ?? null).toBeNull();
  // Speed: today's tokens over today's generation time.
  const today = await stack.db.job.findMany({ where: { workerId: runnerA, status: 'succeeded', finishedAt: { gte: new Date(dayStart(now)) } } });
  const tokens = today.reduce((s, j) => s + j.completionTokens!, 0);
  const ms = today.reduce((s, j) => s + j.generationMs!, 0);
  expect(a.tokens_per_second[day(now)]).toBeCloseTo((tokens * 1000) / ms, 1);

  // Warm minutes: B's seeded hour, and A's now; the fleet is both.
  expect(b.warm_minutes[hourAt(warmHour)]).toBe(30);
  expect(b.jobs.every((x: number) => x === 0)).toBe(true);
  expect(b.tokens_per_second.every((x: number | null) => x === null)).toBe(true);
  expect(a.warm_minutes[hourAt(now)]).toBeGreaterThan(0);
  expect(h.fleet.warm_minutes).toEqual(a.warm_minutes.map((x: number, i: number) => x + b.warm_minutes[i]));
});

test('the dashboard draws the plots, per runner or all, and follows a new job live', async () => {
  await page.goto(`${stack.baseUrl}/dashboard/`);
  await page.locator('#sign-in').waitFor();
  await page.fill('#api-key', stack.apiKey);
  await page.click('#sign-in-form button');
  await page.locator('#app').waitFor();
  await page.locator('#chart-hourly .caption', { hasText: '7 days: 3 jobs' }).waitFor({ timeout: 10_000 });
  expect(await page.locator('.plots canvas').count()).toBe(4);
  const h = await history();
  const earned = h.fleet.earned_microcredits.reduce((s: number, x: number) => s + x, 0);
  expect(await page.locator('#chart-earnings .caption').textContent()).toBe(`30 days: ${(earned / 1e6).toFixed(6)} cr`);
  await expect(page.locator('#chart-reliability .caption').textContent()).resolves.toBe('latest day: 100.0%');
  await page.screenshot({ path: `${SHOTS}dashboard-plots.png`, fullPage: true });

  await page.selectOption('#history-runner', runnerB);
  await page.locator('#chart-hourly .caption', { hasText: '7 days: 0 jobs' }).waitFor();
  expect(await page.locator('#chart-hourly .caption').textContent()).toMatch(/· 30 warm minutes$/);
  await expect(page.locator('#chart-speed .caption').textContent()).resolves.toBe('no jobs in 30 days');
  await page.screenshot({ path: `${SHOTS}dashboard-plots-runner.png`, fullPage: true });

  const loads = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  await page.selectOption('#history-runner', '');
  await runJob('A fourth, while the page is open');
  await page.locator('#chart-hourly .caption', { hasText: '7 days: 4 jobs' }).waitFor({ timeout: 10_000 });
  expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(loads);
});

test('the public card shows 30 days of uptime, nothing before the runner joined', async () => {
  const card = (await api(stack, 'GET', `/v1/workers/${runnerB}/card`, undefined, null)).json;
  expect(card.uptime_30d).toHaveLength(30);
  const at = (t: number) => card.uptime_30d.find((d: any) => d.day === new Date(t).toISOString().slice(0, 10));
  expect(at(now - 2 * DAY).uptime).toBe(0.5);
  expect(at(now - 5 * DAY).uptime).toBeNull();
  expect(at(threeDaysAgo).uptime).toBe(0);
  expect(card.uptime_30d.at(-1).day).toBe(new Date(now).toISOString().slice(0, 10));

  await page.goto(`${stack.baseUrl}/v1/workers/${runnerB}/card.html`);
  expect(await page.locator('.strip span').count()).toBe(30);
  const half = page.locator(`.strip span[data-day="${new Date(now - 2 * DAY).toISOString().slice(0, 10)}"]`);
  await expect(half.getAttribute('class')).resolves.toBe('some');
  await expect(half.getAttribute('title')).resolves.toMatch(/50\.0% up$/);
  await expect(page.locator(`.strip span[data-day="${new Date(threeDaysAgo).toISOString().slice(0, 10)}"]`).getAttribute('class')).resolves.toBe('down');
  await page.screenshot({ path: `${SHOTS}worker-card-uptime.png` });
});
