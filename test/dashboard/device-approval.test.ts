/**
 * `trd-worker login` as a new owner meets it: the CLI prints a link with the
 * code in it; opened in Chromium, the dashboard asks to sign in, comes back to
 * the approval page with the code filled in and the machine the CLI described
 * (host name, GPU, runner version); Approve, and the CLI gets its token. A
 * denied code stops the CLI with a clear message. The gateway alone serves it
 * (no route here reaches Temporal).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { createApiKey, createCustomer } from '../../gateway/api-keys.js';
import { startTrdWorker, type ManagedProcess } from '../../devstack/processes.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';

const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const LINK = /open (http\S+\/dashboard\/device\?code=([A-Z0-9]{4}-[A-Z0-9]{4})) /;
let gw: GatewayOnly;
let browser: Browser;
let page: Page;
let apiKey: string;
let customerId: string;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  gw = await startGatewayOnly({ login: { codeTtlMs: 120_000, pollIntervalMs: 100 } });
  customerId = await createCustomer(gw.db, 'GPU owner');
  apiKey = await createApiKey(gw.db, customerId, 'dashboard');
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await browser?.close();
  await gw?.stop();
});

function login(name: string): { cli: ManagedProcess; config: string } {
  const config = mkdtempSync(join(tmpdir(), `device-${name}-`));
  // TRD_HARDWARE: the GPU the CLI reports, without probing this machine's.
  const cli = startTrdWorker(name, ['login', '--gateway-url', gw.baseUrl, '--email', 'owner@example.com'], {
    env: { TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '', TRD_HARDWARE: '{"gpu":"cuda","gpuMemoryMiB":12288}' },
  });
  started.push(cli);
  return { cli, config };
}

const exitOf = (p: ManagedProcess) => new Promise<number | null>((resolve) => (p.child.exitCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (code) => resolve(code))));

test('the CLI prints a link with its code; the page signs in, shows the machine, approves; the CLI gets its token', async () => {
  const { cli, config } = login('approve');
  const [, link, userCode] = LINK.exec(await cli.waitFor(LINK, 30_000))!;
  expect(await cli.waitFor(new RegExp(`approve code ${userCode}`), 1000)).toBeTruthy();

  await page.goto(link);
  // Not signed in: the page sends the owner to the dashboard's sign-in, which sends them back.
  await page.locator('#signed-out').waitFor();
  await page.click('#sign-in-link');
  await page.locator('#sign-in').waitFor();
  await page.fill('#api-key', apiKey);
  await page.click('#sign-in-form button');
  await page.waitForURL(/\/dashboard\/device\?code=/);
  // The page fills the code in once it knows the owner is signed in, and shows the details after that.
  await page.locator('#details').waitFor();
  await expect(page.locator('#user-code').inputValue()).resolves.toBe(userCode);
  await expect(page.locator('#m-gpu').textContent()).resolves.toBe('cuda, 12.0 GiB');
  await expect(page.locator('#m-version').textContent()).resolves.toBe(JSON.parse(readFileSync('gpu-runner/package.json', 'utf8')).version);
  await expect(page.locator('#m-hostname').textContent()).resolves.toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  await expect(page.locator('#m-email').textContent()).resolves.toBe('owner@example.com');
  await page.screenshot({ path: `${SHOTS}device-approval.png`, fullPage: true });

  await page.click('#approve');
  await page.locator('#result', { hasText: 'Approved as runner-' }).waitFor();
  const runnerId = /as (runner-[0-9a-f]+)/.exec((await page.locator('#result').textContent())!)![1];
  await cli.waitFor(new RegExp(`logged in as ${runnerId}`), 30_000);
  expect(await exitOf(cli)).toBe(0);
  expect(JSON.parse(readFileSync(join(config, 'credentials.json'), 'utf8')).runner_id).toBe(runnerId);
  expect(await gw.db.runner.findUniqueOrThrow({ where: { id: runnerId } })).toMatchObject({ ownerId: customerId, ownerEmail: 'owner@example.com' });
  // Approved once: the page now says so, and a second approval changes nothing.
  const again = await page.evaluate((c) => fetch(`/v1/owner/device-codes/${c}/approve`, { method: 'POST' }).then((r) => r.status), userCode);
  expect(again).toBe(409);
});

test('denied on the page: the CLI stops with a clear message and stores nothing', async () => {
  const { cli, config } = login('deny');
  const [, link] = LINK.exec(await cli.waitFor(LINK, 30_000))!;
  await page.goto(link);
  await page.locator('#details').waitFor();
  await page.click('#deny');
  await page.locator('#result', { hasText: 'Denied' }).waitFor();
  await cli.waitFor(/trd-worker: error: login denied: the owner denied this login: no token was issued/, 30_000);
  expect(await exitOf(cli)).toBe(1);
  expect(() => readFileSync(join(config, 'credentials.json'))).toThrow();
});

test('the old address leads to the page; the API-key approval still works; bad input is refused', async () => {
  const old = await fetch(`${gw.baseUrl}/v1/runners/device-codes/approve?code=abcd-efgh`, { redirect: 'manual' });
  expect([old.status, old.headers.get('location')]).toEqual([302, '/dashboard/device?code=ABCD-EFGH']);
  const post = (path: string, body: unknown, key?: string) =>
    fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }));

  const machine = { hostname: 'rig-1', gpu: 'NVIDIA RTX 4090', runner_version: '0.1.0' };
  const code = await post('/v1/runners/device-codes', { machine });
  expect(code.json.verification_uri_complete).toBe(`${gw.baseUrl}/dashboard/device?code=${code.json.user_code}`);
  expect(await gw.db.runnerDeviceCode.findUnique({ where: { userCode: code.json.user_code } })).toMatchObject({ hostname: 'rig-1', gpu: 'NVIDIA RTX 4090', runnerVersion: '0.1.0' });
  expect((await post('/v1/runners/device-codes/approve', { user_code: code.json.user_code }, apiKey)).status).toBe(200);
  expect((await post('/v1/runners/device-token', { device_code: code.json.device_code })).json.token).toMatch(/^trd_rt_/);

  const before = await gw.db.runnerDeviceCode.count();
  for (const [bad, param] of [
    [{ ...machine, hostname: '<script>' }, 'machine.hostname'],
    [{ ...machine, hostname: 'h'.repeat(254) }, 'machine.hostname'],
    [{ ...machine, gpu: 'x'.repeat(121) }, 'machine.gpu'],
    [{ ...machine, gpu: 'GPU\u0007' }, 'machine.gpu'],
    [{ ...machine, runner_version: 'latest' }, 'machine.runner_version'],
    [{ ...machine, extra: 1 }, 'machine'],
  ] as const) {
    const res = await post('/v1/runners/device-codes', { machine: bad });
    expect([res.status, res.json.error.param]).toEqual([400, param]);
  }
  expect(await gw.db.runnerDeviceCode.count()).toBe(before);
  // The page's calls need a dashboard session.
  expect((await fetch(`${gw.baseUrl}/v1/owner/device-codes/${code.json.user_code}`)).status).toBe(401);
});
