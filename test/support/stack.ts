/**
 * The platform for one test file, on the real services from global setup:
 * its own database (cloned from the migrated template), its own Temporal
 * namespace, the orchestrator worker and the gateway in this process, and
 * runners as real `trd-worker` child processes.
 */
import { expect } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createDatabase } from '../../devstack/postgres.js';
import { startProcess, type ManagedProcess } from '../../devstack/processes.js';
import { createApiKey, createCustomer } from '../../gateway/api-keys.js';
import { createGatewayApp } from '../../gateway/app.js';
import { gatewaySettings, type GatewaySettings } from '../../gateway/settings.js';
import { createOrchestratorWorker } from '../../orchestrator/worker.js';
import { createDb, type Db } from '../../platform/db.js';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../../platform/signing-key.js';
import type { JobLimits } from '../../workflows/inference-job.js';
import { namespaceForTestFile } from './names.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Short bounds so failure paths finish in seconds. */
export const TEST_JOB_LIMITS: JobLimits = {
  heartbeatTimeoutMs: 3000,
  deadlineMs: 60_000,
  maxAttempts: 3,
  retryInitialIntervalMs: 200,
};

export interface TestStack {
  baseUrl: string;
  db: Db;
  client: Client;
  namespace: string;
  databaseUrl: string;
  temporalAddress: string;
  signingKey: SigningKey;
  apiKey: string;
  settings: GatewaySettings;
  /** Starts a `trd-worker start` process for the tiny model and waits until it polls. */
  startRunner(opts?: { workerId?: string; extraArgs?: string[] }): Promise<ManagedProcess>;
  /** A second customer, for isolation checks. */
  newApiKey(name?: string): Promise<string>;
  stop(): Promise<void>;
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through jest's global setup (npm test)`);
  return v;
}

let runtimeInstalled = false;
function quietTemporalLogs(): void {
  if (runtimeInstalled || process.env.TRD_TEST_ECHO) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier test file in this process.
  }
}

export async function startStack(opts: { jobLimits?: Partial<JobLimits>; settings?: Partial<GatewaySettings> } = {}): Promise<TestStack> {
  quietTemporalLogs();
  const namespace = namespaceForTestFile(expect.getState().testPath!);
  const temporalAddress = need('TRD_TEST_TEMPORAL_ADDRESS');
  const dbName = `t_${randomBytes(6).toString('hex')}`;
  await createDatabase(need('TRD_TEST_PG_ADMIN_URL'), dbName, 'trd_template');
  const databaseUrl = `${need('TRD_TEST_PG_URL_PREFIX')}${dbName}`;
  const db = createDb(databaseUrl);
  const signingKey = await signingKeyFromPem(generateSigningKeyPem());

  const workerConnection = await NativeConnection.connect({ address: temporalAddress });
  const orchestrator: Worker = await createOrchestratorWorker({
    connection: workerConnection,
    namespace,
    db,
    signingKey,
    workflowBundlePath: need('TRD_TEST_WORKFLOW_BUNDLE'),
  });
  const orchestratorRun = orchestrator.run();

  const clientConnection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection: clientConnection, namespace });
  const base = gatewaySettings({});
  const settings: GatewaySettings = { ...base, ...opts.settings, jobLimits: { ...TEST_JOB_LIMITS, ...opts.jobLimits } };
  const app = createGatewayApp({ db, temporal: client, settings });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as { port: number };

  const runners: ManagedProcess[] = [];
  const newApiKey = async (name = 'test customer') => createApiKey(db, await createCustomer(db, name), 'test');

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    db,
    client,
    namespace,
    databaseUrl,
    temporalAddress,
    signingKey,
    apiKey: await newApiKey(),
    settings,
    newApiKey,
    async startRunner(o = {}) {
      const runner = startProcess(
        o.workerId ?? 'runner',
        process.execPath,
        [
          'gpu-runner/bin/trd-worker.js',
          'start',
          '--model',
          'trd-tiny',
          '--models-dir',
          need('TRD_TEST_MODELS_DIR'),
          '--worker-id',
          o.workerId ?? `test-runner-${runners.length + 1}`,
          '--temporal-address',
          temporalAddress,
          '--namespace',
          namespace,
          '--threads',
          '1',
          '--shutdown-grace-ms',
          '2000',
          ...(o.extraArgs ?? []),
        ],
        { cwd: ROOT, echo: process.env.TRD_TEST_ECHO ? (l) => console.log(l) : undefined },
      );
      runners.push(runner);
      await runner.waitFor(/trd-worker: serving/, 60_000);
      return runner;
    },
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      orchestrator.shutdown();
      await orchestratorRun;
      await clientConnection.close();
      await workerConnection.close();
      await db.$disconnect();
    },
  };
}

/** fetch with a JSON body and parsed JSON answer. */
export async function api(stack: TestStack, method: string, path: string, body?: unknown, key: string | null = stack.apiKey) {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
