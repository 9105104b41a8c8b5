/**
 * Update notices on a real stack: the platform recommends a newer runner
 * (the daemon's log, `trd-worker status` and the owner's overview show it with
 * the command); then raises the minimum above it while the runner works on a
 * job: the job still finishes on it, the daemon takes no new jobs and says
 * why, and the runner endpoint refuses its polls with the same message.
 */
import { expect, test } from '@jest/globals';
import { Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTrdWorker, type ManagedProcess } from '../../devstack/processes.js';
import { findApiKey } from '../../gateway/api-keys.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { api, useStack, waitForJob } from '../support/stack.js';

const RUNNER = 'update-runner';
const VERSION = JSON.parse(readFileSync('gpu-runner/package.json', 'utf8')).version as string;
let token: string;
let runner: ManagedProcess;

const stack = useStack({ settings: { runnerVersions: { minimum: null, recommended: '99.0.0', updateCommand: 'npm install -g trd-worker@{version}' } } }, async (s) => {
  token = await createRunnerToken(s.db, RUNNER);
  const owner = await findApiKey(s.db, s.apiKey);
  await s.db.runner.update({ where: { id: RUNNER }, data: { ownerId: owner!.customerId } });
  // Slow tokens: a job lasts seconds, long enough to change the minimum under it.
  runner = await s.startRunner({ workerId: RUNNER, token, env: { TRD_RUNNER_FAULTS: 'token-delay-ms=50' } });
});

const exitOf = (p: ManagedProcess) => new Promise<number | null>((resolve) => (p.child.exitCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (code) => resolve(code))));

test('a recommended version: the daemon log, `trd-worker status` and the overview show the notice with the command', async () => {
  const command = 'npm install -g trd-worker@99.0.0';
  await runner.waitFor(new RegExp(`update available: trd-worker 99\\.0\\.0 is out \\(this runner: ${VERSION.replace(/\./g, '\\.')}\\); update when convenient with: npm install -g trd-worker@99\\.0\\.0`), 15_000);

  const config = mkdtempSync(join(tmpdir(), 'update-status-'));
  const env = { TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '' };
  const login = startTrdWorker('login', ['login', '--gateway-url', stack.baseUrl, '--token', token], { env });
  expect(await exitOf(login)).toBe(0);
  // Checking the token wrote nothing over the serving daemon's last beat.
  const row = await stack.db.runner.findUniqueOrThrow({ where: { id: RUNNER } });
  expect([row.runnerVersion, row.state]).toEqual([VERSION, 'idle']);
  const status = startTrdWorker('status', ['status'], { env });
  const line = await status.waitFor(/^update +/, 30_000);
  expect(line).toContain(`available: trd-worker 99.0.0 is out`);
  expect(line).toContain(command);
  const json = startTrdWorker('status-json', ['status', '--json'], { env });
  const report = JSON.parse(await json.waitFor(/^\{/, 30_000));
  expect(report).toMatchObject({ version: VERSION, update: { level: 'recommended', command, recommended: '99.0.0', minimum: null, current: VERSION } });

  // The owner's dashboard overview carries it for the runner's card.
  const signIn = await fetch(`${stack.baseUrl}/v1/owner/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: stack.apiKey }) });
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
  const overview = await (await fetch(`${stack.baseUrl}/v1/owner/overview`, { headers: { cookie } })).json();
  expect(overview.runners.find((r: { id: string }) => r.id === RUNNER)).toMatchObject({ version: VERSION, update: { level: 'recommended', command } });
});

test('the minimum raised above it mid-job: the job finishes on it; no new jobs; the endpoint refuses its polls with the message', async () => {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'a long story', max_tokens: 120 });
  await waitForJob(stack, created.json.id, (j) => j.status === 'running' && j.worker_id === RUNNER);
  // What an operator does by setting TRD_RUNNER_MIN_VERSION (the in-process gateway reads it at each heartbeat).
  stack.settings.runnerVersions.minimum = '99.0.0';
  const required = await runner.waitFor(/UPDATE REQUIRED: /, 15_000);
  expect(required).toContain(`trd-worker ${VERSION} is below the minimum version 99.0.0: it gets no new jobs until it is updated (jobs it is running finish). Update with: npm install -g trd-worker@99.0.0`);
  // The job it was running when the notice came was not lost: it finished, on this runner.
  expect((await api(stack, 'GET', `/v1/jobs/${created.json.id}`)).json.status).toBe('running');
  const done = await waitForJob(stack, created.json.id, (j) => j.status !== 'running' && j.status !== 'queued', 60_000);
  expect(done).toMatchObject({ status: 'succeeded', worker_id: RUNNER });
  expect(done.usage.completion_tokens).toBe(120);

  await runner.waitFor(/not taking new jobs: update required/, 5000);
  const row = await stack.db.runner.findUniqueOrThrow({ where: { id: RUNNER } });
  expect(row.updateRequired).toContain('below the minimum version 99.0.0');
  expect((await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny')).json.data).toEqual([]);
  // One decision about the runner however many heartbeats said it since, to be signed into its chain.
  const decided = await stack.db.runnerDecision.findMany({ where: { runnerId: RUNNER, kind: 'update_required' } });
  expect(decided.map((d) => d.detail)).toEqual([{ message: row.updateRequired, version: VERSION }]);

  // A runner that ignored the notice (an old daemon) is refused at the endpoint with the same words.
  const tls = { serverRootCACertificate: readFileSync(stack.runnerEndpoint.tls.caFile), serverNameOverride: stack.runnerEndpoint.tls.serverName };
  const conn = await Connection.connect({ address: stack.runnerEndpoint.address, tls, metadata: { authorization: `Bearer ${token}` } });
  try {
    const err = await conn
      .withDeadline(Date.now() + 10_000, () => conn.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: `runner.${RUNNER}` }, identity: RUNNER }))
      .then(() => null, (e: Error) => e);
    expect(err?.message).toContain('below the minimum version 99.0.0');
    let e = err as { code?: unknown; cause?: unknown } | undefined;
    for (let i = 0; e && typeof e.code !== 'number' && i < 5; i++) e = e.cause as typeof e;
    expect(e?.code).toBe(7); // PERMISSION_DENIED
  } finally {
    await conn.close();
  }

  // The minimum lowered again: it serves again.
  stack.settings.runnerVersions.minimum = null;
  await runner.waitFor(/taking jobs again/, 15_000);
  const next = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'after', max_tokens: 4 });
  expect(next.json).toMatchObject({ status: 'succeeded', worker_id: RUNNER });
});
