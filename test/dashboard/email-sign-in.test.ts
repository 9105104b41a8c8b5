/**
 * Sign-in by e-mail against a real SMTP server (aiosmtpd): a new GPU owner
 * runs `trd-worker login`, opens the printed link in Chromium, asks for a
 * sign-in link, reads the mail the server received, opens the link, lands
 * back on the approval page and approves; the CLI gets its token. Then the
 * link's rules: single use, expiring, only a hash stored, rate-limited per
 * address and per IP, and a mail that could not be sent leaves no usable link.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startTrdWorker, type ManagedProcess } from '../../devstack/processes.js';
import { gatewaySettings } from '../../gateway/settings.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

const LINK_IN_MAIL = /^(http\S+\/dashboard\/\?sign_in=\S+)$/m;
let smtp: TestSmtpServer;
let gw: GatewayOnly;
let browser: Browser;
let page: Page;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  const defaults = gatewaySettings({});
  gw = await startGatewayOnly({
    login: { codeTtlMs: 120_000, pollIntervalMs: 100 },
    emailSignIn: { smtp: { host: smtp.host, port: smtp.port, from: 'sign-in@trd.test', timeoutMs: 10_000 }, linkTtlMs: 60_000, windowMs: 60_000, perAddress: 3, perIp: 8 },
    rateLimits: defaults.rateLimits,
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await browser?.close();
  await gw?.stop();
  await smtp?.stop();
});

/** POSTs JSON from a chosen loopback address, so each address is another client. */
function post(path: string, body: unknown, from = '127.0.0.1'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port: gw.port, path, method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: data ? JSON.parse(data) : null }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const exitOf = (p: ManagedProcess) => new Promise<number | null>((resolve) => (p.child.exitCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (code) => resolve(code))));

test('a new owner: CLI link, sign-in link by mail, back to the approval page, approve; the CLI gets its token', async () => {
  const config = mkdtempSync(join(tmpdir(), 'email-login-'));
  const cli = startTrdWorker('login', ['login', '--gateway-url', gw.baseUrl], {
    env: { TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '', TRD_HARDWARE: '{"gpu":false,"gpuMemoryMiB":0}' },
  });
  started.push(cli);
  const link = /open (http\S+) /.exec(await cli.waitFor(/open http\S+\/dashboard\/device\?code=/, 30_000))![1];

  await page.goto(link);
  await page.click('#sign-in-link');
  await page.fill('#email', 'New.Owner@Example.com');
  await page.click('#email-form button');
  await page.locator('#email-status', { hasText: 'Sent: open the link in the mail to new.owner@example.com' }).waitFor();

  const mail = await smtp.waitForMessage(1);
  expect(mail).toMatch(/^To: new\.owner@example\.com$/m);
  expect(mail).toMatch(/^From: sign-in@trd\.test$/m);
  expect(mail).toMatch(/^Subject: Your TRD Compute sign-in link$/m);
  const signInLink = LINK_IN_MAIL.exec(mail)![1];
  const token = new URL(signInLink).searchParams.get('sign_in')!;
  // Only the link's hash is in the database.
  const rows = await gw.db.emailSignIn.findMany();
  expect(rows).toHaveLength(1);
  expect(JSON.stringify(rows)).not.toContain(token);

  await page.goto(signInLink);
  // Signed in (a new account, owned by the address), and back where the sign-in was asked from.
  await page.waitForURL(/\/dashboard\/device\?code=/);
  await page.locator('#details').waitFor();
  await expect(page.locator('#m-gpu').textContent()).resolves.toBe('none (CPU only)');
  await page.click('#approve');
  await page.locator('#result', { hasText: 'Approved as runner-' }).waitFor();
  await cli.waitFor(/logged in as runner-/, 30_000);
  expect(await exitOf(cli)).toBe(0);
  const member = await gw.db.orgMember.findFirstOrThrow({ where: { email: 'new.owner@example.com' } });
  expect(member.role).toBe('owner');
  const runner = await gw.db.runner.findFirstOrThrow({ where: { ownerId: member.customerId } });
  expect(runner.id).toMatch(/^runner-/);

  // Single use: the same link again signs nobody in, and says why.
  const again = await post('/v1/owner/session/email', { token }, '127.0.0.9');
  expect([again.status, again.json.error.message]).toEqual([401, 'this sign-in link was used already: ask for a new one']);
  // A second link for the same address signs in to the same account.
  const sent = await post('/v1/owner/email-links', { email: 'new.owner@example.com' }, '127.0.0.9');
  expect(sent.status).toBe(202);
  const second = new URL(LINK_IN_MAIL.exec(await smtp.waitForMessage(2))![1]).searchParams.get('sign_in')!;
  const res = await fetch(`${gw.baseUrl}/v1/owner/session/email`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: second }) });
  expect(res.status).toBe(201);
  expect((await res.json()).owner.id).toBe(member.customerId);
});

test('an expired link signs nobody in', async () => {
  expect((await post('/v1/owner/email-links', { email: 'late@example.com' }, '127.0.0.2')).status).toBe(202);
  const token = new URL(LINK_IN_MAIL.exec(await smtp.waitForMessage(3))![1]).searchParams.get('sign_in')!;
  await gw.db.emailSignIn.updateMany({ where: { email: 'late@example.com' }, data: { expiresAt: new Date(Date.now() - 1000) } });
  const res = await post('/v1/owner/session/email', { token });
  expect([res.status, res.json.error.message]).toEqual([401, 'this sign-in link expired: ask for a new one']);
  expect(await gw.db.orgMember.count({ where: { email: 'late@example.com' } })).toBe(0);
});

test('asking is rate-limited per address and per IP; bad input is refused and sends nothing', async () => {
  const before = smtp.messages().length;
  const statuses = [];
  // Per address, whatever the case it is written in and wherever it is asked from.
  for (const [email, from] of [['flood@example.com', '127.0.0.3'], ['FLOOD@example.com', '127.0.0.4'], ['flood@example.com', '127.0.0.5'], ['flood@example.com', '127.0.0.6']]) {
    statuses.push((await post('/v1/owner/email-links', { email }, from)).status);
  }
  expect(statuses).toEqual([202, 202, 202, 429]);
  // Per IP: one address asking for many mailboxes.
  const perIp = [];
  for (let i = 0; i < 9; i++) perIp.push((await post('/v1/owner/email-links', { email: `user${i}@example.com` }, '127.0.0.7')).status);
  expect(perIp).toEqual([202, 202, 202, 202, 202, 202, 202, 202, 429]);
  expect(smtp.messages().length).toBe(before + 3 + 8);

  for (const body of [{ email: 'not-an-address' }, { email: 'a@example.com', next: 'https://evil.example/' }, { email: 'a@example.com', next: '/dashboard/../v1/x' }, { email: 'a@example.com\r\nBcc: x@example.com' }]) {
    expect((await post('/v1/owner/email-links', body, '127.0.0.8')).status).toBe(400);
  }
  expect(smtp.messages().length).toBe(before + 11);
});

test('a mail that cannot be sent: a clear 503, and no usable link is left', async () => {
  const down = await startGatewayOnly({ emailSignIn: { ...gw.settings.emailSignIn, smtp: { host: '127.0.0.1', port: 1, from: 'sign-in@trd.test', timeoutMs: 2000 } } });
  try {
    const res = await fetch(`${down.baseUrl}/v1/owner/email-links`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'owner@example.com' }) });
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toMatch(/could not be sent/);
    expect(await down.db.emailSignIn.count()).toBe(0);
  } finally {
    await down.stop();
  }
  const off = await startGatewayOnly({});
  try {
    const res = await fetch(`${off.baseUrl}/v1/owner/email-links`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'owner@example.com' }) });
    expect([res.status, (await res.json()).error.code]).toEqual([503, 'email_sign_in_off']);
  } finally {
    await off.stop();
  }
});
