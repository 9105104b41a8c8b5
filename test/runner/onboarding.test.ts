/**
 * Onboarding in one command: `trd-worker start --gateway-url` on a machine not logged in logs in
 * (device flow: the test approves the printed code with the owner's API key), benches and files
 * the result, prints the defaults it picked, then serves as the new runner. On the gateway alone,
 * with the runner polling the test Temporal directly: no job runs.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTrdWorker, type ManagedProcess } from '../../devstack/processes.js';
import { createApiKey, createCustomer } from '../../gateway/api-keys.js';
import { gatewaySettings } from '../../gateway/settings.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';
import { serviceEndpoints } from '../support/stack.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../platform/signing-key.js';
import { publishSigningKeys } from '../../orchestrator/signing-keys.js';
import { registerSignedCatalog } from '../../orchestrator/worker.js';

let gw: GatewayOnly;
let key: string;
const started: ManagedProcess[] = [];
const config = mkdtempSync(join(tmpdir(), 'onboarding-'));

beforeAll(async () => {
  gw = await startGatewayOnly({ login: { codeTtlMs: 120_000, pollIntervalMs: 100 }, rateLimits: { ...gatewaySettings({}).rateLimits, perIp: 1000 } });
  // What the orchestrator does at start: publish its key and sign the catalog runners check.
  const signing = await signingKeyFromPem(generateSigningKeyPem());
  await publishSigningKeys(gw.db, [signing], 0);
  await registerSignedCatalog(gw.db, signing);
  key = await createApiKey(gw.db, await createCustomer(gw.db, 'new owner'), 'owner');
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await gw?.stop();
});

test('start on a machine not logged in: login, bench, the defaults it picked, then serving', async () => {
  const s = serviceEndpoints();
  const p = startTrdWorker('onboarding', ['start', '--gateway-url', gw.baseUrl, '--email', 'new@example.com', '--bench-runs', '1', '--bench-tokens', '8', '--model', 'trd-tiny', '--models-dir', s.modelsDir, '--temporal-address', s.temporalAddress], {
    env: { TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '', TRD_MODEL: '' },
  });
  started.push(p);
  await p.waitFor(/not logged in: registering this machine with .* \(step 1 of 3: login\)/, 30_000);
  const prompt = await p.waitFor(/approve code [A-Z0-9]{4}-[A-Z0-9]{4}/, 30_000);
  const userCode = /approve code ([A-Z0-9]{4}-[A-Z0-9]{4})/.exec(prompt)![1];
  const approved = await fetch(`${gw.baseUrl}/v1/runners/device-codes/approve`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ user_code: userCode }) });
  expect(approved.status).toBe(200);
  const runnerId = ((await approved.json()) as { runner_id: string }).runner_id;

  await p.waitFor(new RegExp(`logged in as ${runnerId}`), 30_000);
  await p.waitFor(/hardware: .* GiB free for models: class /, 60_000);
  await p.waitFor(/step 2 of 3: benchmark \(trd-tiny, 1 runs of 8 tokens/, 10_000);
  await p.waitFor(/benchmark: \d+ tok\/s generation, \d+ tok\/s prompt; filed with the gateway/, 120_000);
  await p.waitFor(new RegExp(`serving trd-tiny as ${runnerId}`), 60_000);

  const credentials = join(config, 'credentials.json');
  expect(existsSync(credentials)).toBe(true);
  expect(JSON.parse(readFileSync(credentials, 'utf8'))).toMatchObject({ runner_id: runnerId, gateway_url: gw.baseUrl });
  const row = await gw.db.runner.findUniqueOrThrow({ where: { id: runnerId } });
  expect(row.ownerEmail).toBe('new@example.com');
  expect(row.benchClass).not.toBeNull();
  expect(row.benchTokensPerSecond).toBeGreaterThan(0);
  await p.stop();
});
