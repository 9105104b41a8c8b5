/**
 * Login, sign-in and key endpoints are rate-limited per client IP and per
 * credential: a burst gets 429 with Retry-After and the usual error body, the
 * window's end lets the client in again, and other clients never notice.
 * The limiter itself on the database; then the real gateway on a real
 * database, with clients on different loopback addresses (127.0.0.x).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, createCustomer } from '../../gateway/api-keys.js';
import { RateLimiter } from '../../gateway/rate-limit.js';
import type { Db } from '../../platform/db.js';
import { startTrdWorker } from '../../devstack/processes.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';

describe('the limiter', () => {
  test('allows `limit` hits per window and key (counted in PostgreSQL), then says how long to wait', async () => {
    const limiter = new RateLimiter(db, 'unit', 2, 800);
    expect([await limiter.hit('a'), await limiter.hit('a')]).toEqual([0, 0]);
    const wait = await limiter.hit('a');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(800);
    expect(await limiter.hit('b')).toBe(0);
    // Another limiter over the same table, as another gateway replica: the same window, already spent.
    expect(await new RateLimiter(db, 'unit', 2, 800).hit('a')).toBeGreaterThan(0);
    // Another scope counts on its own.
    expect(await new RateLimiter(db, 'other', 2, 800).hit('a')).toBe(0);
    await sleep(wait + 50);
    expect(await limiter.hit('a')).toBe(0);
    // Keys are stored hashed: no credential sits in the table.
    const stored = await db.$queryRaw<{ key: Buffer }[]>`SELECT key FROM rate_limit_windows`;
    expect(stored.every((r) => r.key.length === 32)).toBe(true);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WINDOW_MS = 1500;
/** Token polls are allowed 2 × window / interval per window: 2 here, the configured per-credential limit. */
const POLL_MS = WINDOW_MS;
let gateway: GatewayOnly;
let db: Db;
let port: number;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  gateway = await startGatewayOnly({ rateLimits: { windowMs: WINDOW_MS, perIp: 3, perCredential: 2 }, login: { codeTtlMs: 60_000, pollIntervalMs: POLL_MS } });
  ({ db, port } = gateway);
  keyA = await createApiKey(db, await createCustomer(db, 'a'), 'a');
  keyB = await createApiKey(db, await createCustomer(db, 'b'), 'b');
});

afterAll(async () => {
  await gateway?.stop();
});

/** POSTs JSON from a chosen loopback address, so each address is another client. */
function post(from: string, path: string, body: unknown, key?: string): Promise<{ status: number; retryAfter: string | undefined; json: any }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(key ? { authorization: `Bearer ${key}` } : {}) } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, json: data ? JSON.parse(data) : null }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}


function expectLimited(res: { status: number; retryAfter: string | undefined; json: any }) {
  expect(res.status).toBe(429);
  expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(res.retryAfter)).toBeLessThanOrEqual(Math.ceil(WINDOW_MS / 1000));
  expect(res.json.error).toEqual({ message: expect.stringMatching(/too many .* requests for this (IP address|credential); try again in \d+ s/), type: 'rate_limit_error', param: null, code: 'rate_limited' });
}

describe('the device-code login (per IP)', () => {
  test('a burst gets 429 with Retry-After, another client is unaffected, and after the window it works again', async () => {
    const burst = [];
    for (let i = 0; i < 5; i++) burst.push(await post('127.0.0.2', '/v1/runners/device-codes', {}));
    expect(burst.map((r) => r.status)).toEqual([201, 201, 201, 429, 429]);
    expectLimited(burst[3]);
    // The limited requests made no codes.
    expect(await db.runnerDeviceCode.count()).toBe(3);

    expect((await post('127.0.0.3', '/v1/runners/device-codes', {})).status).toBe(201);

    await sleep(WINDOW_MS + 100);
    expect((await post('127.0.0.2', '/v1/runners/device-codes', {})).status).toBe(201);
  });

  test('polling for the token is limited per device code, across addresses', async () => {
    const code = (await post('127.0.0.4', '/v1/runners/device-codes', {})).json.device_code as string;
    // Poll limits follow the announced interval (a whole window here), so the configured limits apply: 2 per code.
    const polls = [];
    for (const from of ['127.0.0.5', '127.0.0.6', '127.0.0.7']) polls.push(await post(from, '/v1/runners/device-token', { device_code: code }));
    expect(polls.map((p) => p.status)).toEqual([428, 428, 429]);
    expectLimited(polls[2]);
    expect(polls[2].json.error.message).toMatch(/credential/);
  });
});

describe('endpoints behind an API key (per IP and per key)', () => {
  test('minting API keys: one key is stopped from any address, another key is not', async () => {
    const statuses = [];
    for (const from of ['127.0.0.8', '127.0.0.9', '127.0.0.10']) statuses.push((await post(from, '/v1/org/keys', { name: 'minted' }, keyA)).status);
    expect(statuses).toEqual([201, 201, 429]);
    expect(await db.apiKey.count({ where: { name: 'minted' } })).toBe(2);
    expect((await post('127.0.0.11', '/v1/org/keys', { name: 'other' }, keyB)).status).toBe(201);
  });

  test('approving user codes (guessing them): limited per key', async () => {
    const statuses = [];
    for (const from of ['127.0.0.12', '127.0.0.13', '127.0.0.14']) statuses.push((await post(from, '/v1/runners/device-codes/approve', { user_code: 'AAAA-BBBB' }, keyA)).status);
    expect(statuses).toEqual([404, 404, 429]);
  });

  test('dashboard sign-in (guessing API keys): limited per IP', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post('127.0.0.15', '/v1/owner/session', { api_key: `trd_sk_guess${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // The owner, elsewhere, signs in.
    expect((await post('127.0.0.16', '/v1/owner/session', { api_key: keyB })).status).toBe(201);
  });
});

describe('trd-worker login', () => {
  test('slows down when its polls are rate-limited (others at its address used the limit up), and still logs in', async () => {
    const config = mkdtempSync(join(tmpdir(), 'login-limit-'));
    const login = startTrdWorker('login', ['login', '--gateway-url', `http://127.0.0.1:${port}`], { env: { TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '' } });
    try {
      const userCode = /approve code ([A-Z0-9]{4}-[A-Z0-9]{4})/.exec(await login.waitFor(/approve code [A-Z0-9]{4}-[A-Z0-9]{4}/, 30_000))![1];
      // Another client at the CLI's address (127.0.0.1) uses up the address's polls: the CLI's next ones get 429.
      const spam = [];
      for (let i = 0; i < 4; i++) spam.push((await post('127.0.0.1', '/v1/runners/device-token', { device_code: `someone-elses-code-${i}-padding` })).status);
      expect(spam.at(-1)).toBe(429);
      expect((await post('127.0.0.17', '/v1/runners/device-codes/approve', { user_code: userCode }, keyB)).status).toBe(200);
      await login.waitFor(/logged in as runner-/, 30_000);
    } finally {
      await login.stop();
    }
  });
});
