/**
 * TLS to Temporal, exercised: one real Temporal server (the v1.32.2 build)
 * whose frontend speaks only TLS with a certificate from a CA this test makes
 * (openssl, devstack/tls.ts). The platform's processes connect with the
 * TRD_TEMPORAL_TLS_CA_FILE / TRD_TEMPORAL_TLS_SERVER_NAME settings every deployment
 * uses: a gateway, an orchestrator and a runner endpoint (whose upstream
 * session is the one a runner's calls ride on) run a job to its receipt.
 * With another CA each of them refuses the server.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsProcess } from '../../devstack/processes.js';
import { startTlsTemporalServer, type TlsTemporalServer } from '../../devstack/temporal-tls-server.js';
import { localTls } from '../../devstack/tls.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { api, startStack, testNamespace, type TestStack } from '../support/stack.js';

let dir: string;
let server: TlsTemporalServer;
let stack: TestStack;
let wrongCa: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trd-temporal-tls-'));
  server = await startTlsTemporalServer({ dir: join(dir, 'server'), namespaces: [testNamespace()] });
  wrongCa = localTls(join(dir, 'other-ca')).caFile;
  stack = await startStack({
    services: { temporalAddress: server.address },
    temporalTls: { caFile: server.tls.caFile, serverName: server.tls.serverName },
    replicas: { gateway: 1, orchestrator: 1, runnerEndpoint: 1 },
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the gateway, an orchestrator and the runner endpoint reach a TLS-only Temporal with TEMPORAL_TLS_* and run a job', async () => {
  // Plaintext gets nowhere: the frontend is TLS only.
  await expect(Connection.connect({ address: server.address, connectTimeout: 2000 })).rejects.toThrow();
  await stack.startRunner();
  const job = await api(stack, 'POST', '/v1/jobs?wait=60', { model: 'trd-tiny', prompt: 'Over TLS', max_tokens: 4 });
  expect({ status: job.status, state: job.json?.status }).toEqual({ status: 200, state: 'succeeded' });
  expect(job.json.receipt.envelope.job_id).toBe(job.json.id);
}, 120_000);

const wrongEnv = () => ({
  DATABASE_URL: stack.databaseUrl,
  TRD_TEMPORAL_ADDRESS: server.address,
  TRD_TEMPORAL_NAMESPACE: stack.namespace,
  TRD_TEMPORAL_TLS_CA_FILE: wrongCa,
  TRD_TEMPORAL_TLS_SERVER_NAME: server.tls.serverName,
  CHECKPOINT_DISABLE: '1',
  TRD_PAYLOAD_KEYS: `${[...stack.payloadKeys.keys][0][0]}:${[...stack.payloadKeys.keys][0][1].toString('base64')}`,
});

/** Starts a platform process with the wrong CA and waits for it to exit; returns what it printed. */
async function refusedStart(name: string, script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const lines: string[] = [];
  const p = startTsProcess(name, script, { env: { ...wrongEnv(), ...env }, echo: (l) => lines.push(l) });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(-1), 60_000);
    p.child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code === -1) await p.stop('SIGKILL');
  return { code, output: lines.join('\n') };
}

test('with a CA that did not sign the server certificate, the gateway and the orchestrator refuse to start', async () => {
  const [gateway, orchestrator] = await Promise.all([
    refusedStart('gateway-wrong-ca', 'gateway/main.ts', { TRD_GATEWAY_PORT: '0', TRD_GATEWAY_HOST: '127.0.0.1' }),
    refusedStart('orchestrator-wrong-ca', 'orchestrator/main.ts', { TRD_RECEIPT_SIGNING_KEY: (await import('../../platform/signing-key.js')).generateSigningKeyPem() }),
  ]);
  for (const [name, r] of Object.entries({ gateway, orchestrator })) {
    expect({ name, exited: r.code !== null && r.code !== 0 && r.code !== -1 }).toEqual({ name, exited: true });
    expect(r.output).toContain(`cannot connect to Temporal at ${server.address} over TLS (CA ${wrongCa}, server name localhost)`);
  }
}, 120_000);

test("with that CA, the runner endpoint's upstream refuses the server: a runner's call through it fails", async () => {
  const endpointTls = localTls(join(dir, 'endpoint'));
  const token = await createRunnerToken(stack.db, 'tls-runner', 'probation');
  const lines: string[] = [];
  const { freePort } = await import('../../devstack/ports.js');
  const port = await freePort();
  const endpoint = startTsProcess('endpoint-wrong-ca', 'runner-proxy/main.ts', {
    env: {
      ...wrongEnv(),
      TRD_RUNNER_ENDPOINT_HOST: '127.0.0.1',
      TRD_RUNNER_ENDPOINT_PORT: String(port),
      TRD_RUNNER_ENDPOINT_TLS_KEY_FILE: join(dir, 'endpoint', 'server.key'),
      TRD_RUNNER_ENDPOINT_TLS_CERT_FILE: join(dir, 'endpoint', 'server.pem'),
    },
    echo: (l) => lines.push(l),
  });
  try {
    await endpoint.waitFor(/runner-endpoint: listening/, 60_000);
    const call = Connection.connect({
      address: `127.0.0.1:${port}`,
      tls: { serverRootCACertificate: readFileSync(endpointTls.caFile), serverNameOverride: endpointTls.serverName },
      metadata: { authorization: `Bearer ${token}` },
      connectTimeout: 10_000,
    }).then((c) => c.workflowService.getSystemInfo({}).finally(() => c.close()));
    await expect(call).rejects.toThrow();
  } finally {
    await endpoint.stop('SIGKILL');
  }
}, 120_000);
