/** The platform for one test file, on the services from global setup, in the file's own namespace. */
import { afterAll, beforeAll, expect } from '@jest/globals';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startPlatform, type LocalPlatform } from '../../devstack/platform.js';
import type { ServiceEndpoints } from '../../devstack/services.js';
import { dispatchSettings } from '../../dispatch/settings.js';
import type { GatewaySettings } from '../../gateway/settings.js';
import type { JobLimits } from '../../platform/workflow-api.js';
import { readBody } from './http.js';
import { namespaceForTestFile } from './names.js';

export type TestStack = LocalPlatform;
/** What api() and waitForJob() need: a cluster (devstack/cluster.ts) has it too. */
export type ApiTarget = Pick<LocalPlatform, 'baseUrl' | 'apiKey'>;

/** Short bounds so failure paths finish in seconds. */
export const TEST_JOB_LIMITS: JobLimits = {
  heartbeatTimeoutMs: 3000,
  deadlineMs: 60_000,
  maxAttempts: 3,
  retryInitialIntervalMs: 200,
  warmWaitMs: 500,
  progressCheckMs: 1000,
  longJobGraceMs: 500,
};

/** Runners heartbeat every second in tests, so the eligible list and "free" are fresh. */
export const TEST_RUNNER_HEARTBEAT_MS = 1000;

export function serviceEndpoints(): ServiceEndpoints {
  const raw = process.env.TRD_TEST_SERVICES;
  if (!raw) throw new Error('TRD_TEST_SERVICES is not set: run the tests through jest (npm test), whose global setup starts the services');
  return JSON.parse(raw);
}

let runtimeInstalled = false;
export function quietTemporalLogs(): void {
  if (runtimeInstalled || process.env.TRD_TEST_ECHO) return;
  runtimeInstalled = true;
  try {
    // Errors only: the fault tests make Temporal's clients log every retry while a server is down.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, console: {} } } });
  } catch {
    // Already installed by an earlier test file in this process.
  }
}

export type StackOptions = NonNullable<Parameters<typeof startStack>[0]>;

/**
 * This file's platform: started before its tests (then `ready`, e.g. its
 * runners), stopped after them. The handle stands for the started stack, so
 * tests use it as they would the stack itself.
 */
export function useStack(opts: StackOptions | (() => StackOptions | Promise<StackOptions>) = {}, ready?: (stack: TestStack) => Promise<unknown>): TestStack {
  let started: TestStack | undefined;
  beforeAll(async () => {
    started = await startStack(typeof opts === 'function' ? await opts() : opts);
    await ready?.(started);
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as TestStack, {
    get(_target, prop) {
      if (!started) throw new Error(`the stack is not started yet (stack.${String(prop)}): use it in a test or a hook after useStack's`);
      const value = Reflect.get(started, prop);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}

/**
 * Temporal aligns a schedule's intervals to the epoch: with the production 15-minute sweep, a test that ran
 * across a quarter hour had its runners' tiers recomputed mid-test (a 'trusted' test runner demoted, its jobs
 * settled at another share). Tests run schedules when they mean to (support/schedules.ts); a year's interval
 * keeps the automatic run out of any test.
 */
const TEST_SCHEDULE_INTERVAL_MS = 365 * 24 * 3600_000;

export async function startStack(
  opts: {
    jobLimits?: Partial<JobLimits>;
    settings?: Partial<GatewaySettings>;
    orchestrator?: 'in-process' | 'process';
    orchestratorScript?: string;
    gateway?: 'in-process' | 'process';
    services?: Partial<ServiceEndpoints>;
    receipts?: Parameters<typeof startPlatform>[1]['receipts'];
    payouts?: Parameters<typeof startPlatform>[1]['payouts'];
    reputation?: Parameters<typeof startPlatform>[1]['reputation'];
    warmPool?: Parameters<typeof startPlatform>[1]['warmPool'];
    audits?: Parameters<typeof startPlatform>[1]['audits'];
    clock?: () => Date;
    runnerEndpoint?: Parameters<typeof startPlatform>[1]['runnerEndpoint'];
    payloadKeys?: Parameters<typeof startPlatform>[1]['payloadKeys'];
    /** Several replica processes of the gateway, orchestrator or runner endpoint (devstack/platform.ts). */
    replicas?: Parameters<typeof startPlatform>[1]['replicas'];
    signingKeyPublishMs?: number;
    processEnv?: Record<string, string>;
    temporalTls?: Parameters<typeof startPlatform>[1]['temporalTls'];
    gatewayPort?: number;
    /** Every line the platform's processes print (TRD_TEST_ECHO prints them too). */
    echo?: (line: string) => void;
  } = {},
): Promise<TestStack> {
  quietTemporalLogs();
  return startPlatform({ ...serviceEndpoints(), ...opts.services }, {
    namespace: testNamespace(),
    jobLimits: { ...TEST_JOB_LIMITS, ...opts.jobLimits },
    settings: { ...opts.settings, dispatch: { ...dispatchSettings({}), runnerHeartbeatIntervalMs: TEST_RUNNER_HEARTBEAT_MS, ...opts.settings?.dispatch } },
    orchestrator: opts.orchestrator,
    orchestratorScript: opts.orchestratorScript,
    gateway: opts.gateway,
    receipts: opts.receipts,
    payouts: { scheduleIntervalMs: TEST_SCHEDULE_INTERVAL_MS, ...opts.payouts },
    reputation: { sweepIntervalMs: TEST_SCHEDULE_INTERVAL_MS, decisionsSignEveryMs: TEST_SCHEDULE_INTERVAL_MS, ...opts.reputation },
    warmPool: { everyMs: TEST_SCHEDULE_INTERVAL_MS, ...opts.warmPool },
    audits: opts.audits,
    clock: opts.clock,
    runnerEndpoint: opts.runnerEndpoint,
    payloadKeys: opts.payloadKeys,
    replicas: opts.replicas,
    signingKeyPublishMs: opts.signingKeyPublishMs,
    processEnv: opts.processEnv,
    temporalTls: opts.temporalTls,
    gatewayPort: opts.gatewayPort,
    echo:
      opts.echo || process.env.TRD_TEST_ECHO
        ? (line) => {
            opts.echo?.(line);
            if (process.env.TRD_TEST_ECHO) console.log(line);
          }
        : undefined,
  });
}

/** This test file's own Temporal namespace. */
export function testNamespace(): string {
  return namespaceForTestFile(expect.getState().testPath!);
}

/** Polls GET /v1/jobs/:id until `until` holds for the job; returns it. */
export async function waitForJob(stack: ApiTarget, id: string, until: (job: any) => boolean, timeoutMs = 30_000, key = stack.apiKey): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await api(stack, 'GET', `/v1/jobs/${id}`, undefined, key);
    last = res.json ?? res.text;
    if (res.status === 200 && until(res.json)) return res.json;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** fetch with a JSON body and a parsed JSON answer. */
export async function api(stack: ApiTarget, method: string, path: string, body?: unknown, key: string | null = stack.apiKey) {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readBody(res);
}
