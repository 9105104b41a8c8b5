/**
 * `trd-worker login` (device code) → `start` serves as the registered runner
 * → `logout` → `start` refuses, saying what to do.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, statSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTrdWorker, type ManagedProcess } from '../../devstack/processes.js';
import { api, serviceEndpoints, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
const config = mkdtempSync(join(tmpdir(), 'login-'));
const credentials = join(config, 'credentials.json');
const started: ManagedProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ settings: { login: { codeTtlMs: 60_000, pollIntervalMs: 100 } } });
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await stack?.stop();
});

function trdWorker(name: string, args: string[]) {
  const p = startTrdWorker(name, args, { env: { TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '' } });
  started.push(p);
  return p;
}

const exitOf = (p: ManagedProcess) => new Promise<number | null>((resolve) => (p.child.exitCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (code) => resolve(code))));

function startArgs() {
  return ['start', '--model', 'trd-tiny', '--models-dir', serviceEndpoints().modelsDir, ...stack.runnerConnectionArgs()];
}

test('login with a device code, start as that runner, a job completes; after logout start says to log in', async () => {
  const login = trdWorker('login', ['login', '--gateway-url', stack.baseUrl, '--email', 'owner@example.com']);
  const prompt = await login.waitFor(/approve code [A-Z0-9]{4}-[A-Z0-9]{4}/, 30_000);
  const userCode = /approve code ([A-Z0-9]{4}-[A-Z0-9]{4})/.exec(prompt)![1];

  const wrong = await api(stack, 'POST', '/v1/runners/device-codes/approve', { user_code: 'AAAA-AAAA' });
  expect(wrong.status).toBe(404);
  const approved = await api(stack, 'POST', '/v1/runners/device-codes/approve', { user_code: userCode.toLowerCase() });
  expect(approved.status).toBe(200);
  const runnerId = approved.json.runner_id as string;
  expect((await api(stack, 'POST', '/v1/runners/device-codes/approve', { user_code: userCode })).status).toBe(409);

  await login.waitFor(/logged in as runner-/, 30_000);
  expect(await exitOf(login)).toBe(0);
  expect(statSync(credentials).mode & 0o777).toBe(0o600);
  const stored = JSON.parse(readFileSync(credentials, 'utf8'));
  expect(stored).toMatchObject({ gateway_url: stack.baseUrl, runner_id: runnerId });
  const row = await stack.db.runner.findUnique({ where: { id: runnerId } });
  expect(row).toMatchObject({ ownerEmail: 'owner@example.com', tier: 'probation' });
  expect(row!.tokenHash).not.toContain(stored.token);

  const runner = trdWorker('runner', startArgs());
  await runner.waitFor(new RegExp(`serving trd-tiny as ${runnerId}`), 60_000);
  const job = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'hello from a logged-in runner', max_tokens: 4 });
  expect(job.json).toMatchObject({ status: 'succeeded', worker_id: runnerId });
  await runner.stop();

  const logout = trdWorker('logout', ['logout']);
  await logout.waitFor(/removed/, 30_000);
  await logout.waitFor(new RegExp(`revoked the token of ${runnerId}`), 1000);
  expect(existsSync(credentials)).toBe(false);
  // Revoked with the gateway, not only forgotten: a copy of the token is worthless now.
  expect((await stack.db.runner.findUniqueOrThrow({ where: { id: runnerId } })).tokenHash).toBeNull();

  const refused = trdWorker('refused', startArgs());
  expect(await exitOf(refused)).toBe(1);
  await refused.waitFor(/not logged in: run `trd-worker login --gateway-url <url>` first/, 1000);
});

test('login --token checks the token with the gateway first', async () => {
  const bad = trdWorker('bad-token', ['login', '--gateway-url', stack.baseUrl, '--token', 'trd_rt_forged']);
  expect(await exitOf(bad)).toBe(1);
  await bad.waitFor(/the gateway refused the token: the runner token is not valid/, 1000);
  expect(existsSync(credentials)).toBe(false);
});

test('the device-token call refuses unknown codes and says what to do', async () => {
  const res = await api(stack, 'POST', '/v1/runners/device-token', { device_code: 'x'.repeat(43) }, null);
  expect(res.status).toBe(404);
  expect(res.json.error.message).toMatch(/run `trd-worker login` again/);
  const email = await api(stack, 'POST', '/v1/runners/device-codes', { email: 'not-an-email' }, null);
  expect(email.status).toBe(400);
  expect(email.json.error.param).toBe('email');
});
