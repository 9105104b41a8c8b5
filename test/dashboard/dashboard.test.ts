/**
 * The owner dashboard in Debian's Chromium, on a real stack: sign in with the
 * account's API key, watch a runner registered with `trd-worker login` come
 * online, earn from a job and pause from the settings editor, all without a
 * reload. Screenshots go to test-results/ for a person to look at.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
let stack: TestStack;
let browser: Browser;
let page: Page;
let runnerId: string;
let token: string;
/** Live updates come over one open event stream, not by reconnecting. */
let eventStreams = 0;

beforeAll(async () => {
  stack = await startStack({ settings: { dashboard: { sessionTtlMs: 3_600_000, pushIntervalMs: 250 } } });
  // The owner registers a runner the way `trd-worker login` does: a device code they approve with their key.
  const code = (await api(stack, 'POST', '/v1/runners/device-codes', { email: 'owner@example.com' }, null)).json;
  expect((await api(stack, 'POST', '/v1/runners/device-codes/approve', { user_code: code.user_code })).status).toBe(200);
  ({ runner_id: runnerId, token } = (await api(stack, 'POST', '/v1/runners/device-token', { device_code: code.device_code }, null)).json);
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('request', (r) => void (r.url().endsWith('/v1/owner/events') && eventStreams++));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const card = () => page.locator(`[data-runner="${runnerId}"]`);

test('the owner API needs a session', async () => {
  expect((await api(stack, 'GET', '/v1/owner/overview', undefined, null)).status).toBe(401);
  const bad = await api(stack, 'POST', '/v1/owner/session', { api_key: 'trd_sk_wrong' }, null);
  expect(bad.status).toBe(401);
});

test('sign in; the registered runner is listed, offline', async () => {
  await page.goto(`${stack.baseUrl}/dashboard`);
  await page.locator('#sign-in').waitFor();
  await page.fill('#api-key', 'trd_sk_wrong');
  await page.click('#sign-in-form button');
  await page.locator('#sign-in-error', { hasText: 'not valid' }).waitFor();
  await page.fill('#api-key', stack.apiKey);
  await page.click('#sign-in-form button');
  await page.locator('#app').waitFor();
  await expect(page.locator('#owner-name').textContent()).resolves.toBe('local customer');
  await card().locator('.pill', { hasText: 'Offline' }).waitFor();
  // The session is a cookie the page's script cannot read.
  const cookies = await page.context().cookies();
  expect(cookies.find((c) => c.name === 'trd_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  expect(await page.evaluate(() => document.cookie)).toBe('');
});

test('the runner comes online, earns from a job, and the balance moves, without a reload', async () => {
  const loads = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  await stack.startRunner({ workerId: runnerId, token });
  await card().locator('.pill', { hasText: 'Online' }).waitFor({ timeout: 15_000 });
  await card().locator('.loaded', { hasText: /^trd-tiny$/ }).waitFor();
  const before = await page.locator('#balance').textContent();
  const job = (await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'Earn me something', max_tokens: 24 })).json;
  expect(job).toMatchObject({ status: 'succeeded', worker_id: runnerId });
  await page.locator('#jobs tr', { hasText: runnerId }).waitFor({ timeout: 10_000 });
  await page.locator('#today-jobs', { hasText: '1 job today' }).waitFor();
  expect(await page.locator('#balance').textContent()).not.toBe(before);
  // What the page says the owner earned is what the ledger says.
  const earned = await stack.db.ledgerEntry.aggregate({ where: { account: `runner:${runnerId}` }, _sum: { amount: true } });
  expect(await page.locator('#balance').textContent()).toBe(`${(Number(earned._sum.amount) / 1e6).toFixed(6)} cr`);
  expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(loads);
  expect(eventStreams).toBe(1);
  // The receipt link serves the signed receipt.
  const href = await page.locator('#jobs tr', { hasText: runnerId }).locator('a').getAttribute('href');
  expect((await api(stack, 'GET', href!, undefined, null)).json.envelope.job_id).toBe(job.id);
  await page.screenshot({ path: `${SHOTS}dashboard-online.png`, fullPage: true });
});

test('pausing from the settings editor: the runner honors it and says why; a bad window changes nothing', async () => {
  const form = card().locator('form.settings');
  await form.locator('input[name=paused]').check();
  await form.locator('button[type=submit]').click();
  await form.locator('.saved', { hasText: 'Saved' }).waitFor();
  // The daemon picks it up at its next heartbeat and reports why it takes no jobs.
  await card().locator('.pill', { hasText: 'Paused · paused by the owner' }).waitFor({ timeout: 15_000 });
  expect((await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny')).json.data).toEqual([]);
  await page.screenshot({ path: `${SHOTS}dashboard-paused.png`, fullPage: true });

  await form.locator('input[name=schedule]').fill('25:00-06:00');
  await form.locator('button[type=submit]').click();
  await form.locator('.saved.bad', { hasText: 'HH:MM' }).waitFor();
  expect((await stack.db.runner.findUniqueOrThrow({ where: { id: runnerId } })).settings).toMatchObject({ paused: true, schedule: null });

  await form.locator('input[name=schedule]').fill('');
  await form.locator('input[name=paused]').uncheck();
  await form.locator('button[type=submit]').click();
  await card().locator('.pill', { hasText: 'Online' }).waitFor({ timeout: 15_000 });
});

test('signing out ends the session', async () => {
  await page.click('#sign-out');
  await page.locator('#sign-in').waitFor();
  expect((await page.evaluate(() => fetch('/v1/owner/overview').then((r) => r.status)))).toBe(401);
});
