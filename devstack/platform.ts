/**
 * One platform instance on running services: its own database (cloned from
 * the migrated template), its own Temporal namespace, the orchestrator worker
 * and the gateway in this process, and runners as real `trd-worker` child
 * processes. Tests and the benchmark build on this.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { TrustTier } from '@trd/protocol';
import { settingsEnv as declaredSettingsEnv } from '@trd/protocol/settings';
import { createApiKey, createCustomer } from '../gateway/api-keys.js';
import { createRunnerToken } from '../gateway/runners.js';
import { closeHttpServer, createGatewayApp } from '../gateway/app.js';
import { JobStreams } from '../gateway/job-streams.js';
import { gatewaySettings, type GatewaySettings } from '../gateway/settings.js';
import { createOrchestratorWorker } from '../orchestrator/worker.js';
import { ensureTemporalSetup } from '../orchestrator/schedules.js';
import { warmPoolSettings, type WarmPoolSettings } from '../economy/warm-pool.js';
import { createDb, type Db } from '../platform/db.js';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../platform/signing-key.js';
import { receiptSettings, receiptSettingsEnv, type ReceiptSettings } from '../receipts/settings.js';
import { payoutSettings, payoutSettingsEnv, type PayoutSettings } from '../economy/payout-settings.js';
import { chainSettingsEnv } from '../chain/settings.js';
import { stripeSettingsEnv } from '../economy/stripe.js';
import { reputationSettings, reputationSettingsEnv, type ReputationSettings, type TierPolicy } from '../economy/reputation.js';
import type { JobLimits } from '../platform/workflow-api.js';
import { newPayloadKey, payloadKeysEnv, payloadKeysFromEnv, platformDataConverter, type PayloadKeys } from '../platform/payload-encryption.js';
import { startRunnerProxy, type RunnerProxy } from '../runner-proxy/proxy.js';
import { RUNNER_ENDPOINT_DEFAULTS } from '../runner-proxy/settings.js';
import { auditSettings, auditSettingsEnv, type AuditLimits, type AuditSettings } from '../audits/settings.js';
import { createDatabase } from './postgres.js';
import { localTls, type LocalTls } from './tls.js';
import { freePort } from './ports.js';
import { startProcess, startTrdWorker, startTsProcess, type ManagedProcess } from './processes.js';
import { TEMPLATE_DB, type ServiceEndpoints } from './services.js';

export interface LocalPlatform {
  baseUrl: string;
  db: Db;
  client: Client;
  namespace: string;
  databaseUrl: string;
  temporalAddress: string;
  /** Every gateway replica's address (the first is `baseUrl`). */
  gatewayUrls: string[];
  /**
   * Where runners connect: the authorizing proxy in front of Temporal (runner-proxy/), over TLS.
   * `proxy` is the in-process one, null when the endpoints run as replica processes (`addresses`).
   */
  runnerEndpoint: { address: string; addresses: string[]; tls: LocalTls; proxy: RunnerProxy | null };
  /** One replica process, to stop (by a signal: SIGKILL is a crash) and start again; with `replicas` only. */
  replica(kind: ReplicaKind, index: number): { stop(signal?: NodeJS.Signals): Promise<void>; start(): Promise<void> };
  /**
   * Adds a new receipt-signing key next to the current ones: orchestrators (re)started from now on
   * hold both and publish the new one, which becomes active after `signingKeyPublishMs`.
   */
  addSigningKey(): Promise<SigningKey>;
  /** The keys Temporal payloads are sealed with. */
  payloadKeys: PayloadKeys;
  /** The `trd-worker start` options that connect a runner to this platform's Temporal (through the runner endpoint). */
  runnerConnectionArgs(endpoint?: number): string[];
  /** The key receipts are signed with now; rotateSigningKey() replaces it. */
  signingKey: SigningKey;
  apiKey: string;
  settings: GatewaySettings;
  /**
   * Registers a runner (id, token, tier), starts a `trd-worker start` process
   * for the tiny model that heartbeats to this gateway, and waits until it polls.
   */
  startRunner(opts?: {
    workerId?: string;
    tier?: TrustTier;
    /** 'on-demand' starts it cold: the model stays on disk until a job needs it. */
    load?: 'on-start' | 'on-demand';
    /** A token from createRunnerToken, when the caller needs it too; otherwise one is made. */
    token?: string;
    extraArgs?: string[];
    env?: NodeJS.ProcessEnv;
    /** Which gateway replica it talks to and which runner endpoint replica it connects through (the first by default). */
    gateway?: number;
    endpoint?: number;
    /** Catalog keys (or GGUF paths) to serve; default trd-tiny. */
    models?: string[];
    /** Where those model files are; default the services' folder (the generated model). */
    modelsDir?: string;
    /** How long to wait for it to poll (a real model loads in seconds, on a shared machine more). */
    readyTimeoutMs?: number;
  }): Promise<ManagedProcess>;
  /** Another customer's key. */
  newApiKey(name?: string): Promise<string>;
  /** Stops the orchestrator (with `orchestrator: 'process'`, by this signal: SIGKILL is a crash). */
  stopOrchestrator(signal?: NodeJS.Signals): Promise<void>;
  startOrchestrator(): Promise<void>;
  /** Restarts the orchestrator with a new receipt-signing key, and returns it. */
  rotateSigningKey(): Promise<SigningKey>;
  /** Stops the gateway (with `gateway: 'process'`, by this signal); it comes back on the same port. */
  stopGateway(signal?: NodeJS.Signals): Promise<void>;
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

export type ReplicaKind = 'gateway' | 'orchestrator' | 'runnerEndpoint';

/** startPlatform's options for the platform as deployed: the gateway, the orchestrator and the runner endpoint each a process of its own. */
export const AS_PROCESSES = { orchestrator: 'process', gateway: 'process', replicas: { runnerEndpoint: 1 } } as const;

export async function startPlatform(
  services: ServiceEndpoints,
  opts: {
    namespace: string;
    jobLimits?: Partial<JobLimits>;
    settings?: Partial<GatewaySettings>;
    echo?: (line: string) => void;
    /** 'process' runs the orchestrator as its own `orchestrator/main.ts` process, so a test can kill it. */
    orchestrator?: 'in-process' | 'process';
    /** With orchestrator 'process': this compiled orchestrator (dist/orchestrator.js, `npm run build`) on plain node, as the image runs it. */
    orchestratorScript?: string;
    /** 'process' runs the gateway as its own `gateway/main.ts` process. */
    gateway?: 'in-process' | 'process';
    receipts?: { pin?: Partial<ReceiptSettings['pin']>; chain?: Partial<ReceiptSettings['chain']>; lighthouseApiKey?: string; lighthouseUrl?: string };
    /** The orchestrator's payout settings (Stripe, the schedule); the gateway gets the same Stripe settings. */
    payouts?: Partial<PayoutSettings>;
    reputation?: { policy?: Partial<TierPolicy>; sweepIntervalMs?: number; decisionsSignEveryMs?: number; token?: Partial<ReputationSettings['token']> };
    /** The warm-pool credit's Schedule (none without a target). */
    warmPool?: Partial<WarmPoolSettings>;
    /** Audit sampling and bounds; none by default, so a test's runners do only the work it gives them. */
    audits?: Partial<Omit<AuditSettings, 'limits'>> & { limits?: Partial<AuditLimits> };
    /** The in-process orchestrator's clock, for reputation (days pass in a test). */
    clock?: () => Date;
    /**
     * The runner endpoint's re-check interval (revocation reaches calls in flight within it).
     * `bypass`: runners connect straight to Temporal and payloads are not sealed: the baseline
     * a benchmark compares the endpoint with, never a way to run the platform.
     */
    runnerEndpoint?: { refreshMs?: number; bypass?: boolean };
    /** The keys Temporal payloads are sealed with; a fresh one by default (replay fixtures use a fixed one). */
    payloadKeys?: PayloadKeys;
    /**
     * Several replicas of a process, each a real process of its own (orchestrator/main.ts,
     * gateway/main.ts on its own port, runner-proxy/main.ts on its own port); overrides
     * `orchestrator`/`gateway: 'process'`.
     */
    replicas?: Partial<Record<ReplicaKind, number>>;
    /** How long a new signing key is published before it signs (TRD_SIGNING_KEY_PUBLISH_MS); 0 by default here. */
    signingKeyPublishMs?: number;
    /** Extra environment for every platform process started (settings a test needs). */
    processEnv?: Record<string, string>;
    /** Temporal's frontend speaks TLS with a certificate from this CA (for this name): the test client and every process use it. */
    temporalTls?: { caFile: string; serverName: string };
    /** The (first) gateway's port, when something started before it must know its address (Temporal's UI, for the codec server). */
    gatewayPort?: number;
  },
): Promise<LocalPlatform> {
  const { namespace } = opts;
  const { temporalAddress } = services;
  const dbName = `p_${randomBytes(6).toString('hex')}`;
  await createDatabase(services.pgAdminUrl, dbName, TEMPLATE_DB);
  const databaseUrl = `${services.pgUrlPrefix}${dbName}`;
  const db = createDb(databaseUrl);
  let signingKeyPems = [generateSigningKeyPem()];
  let signingKey = await signingKeyFromPem(signingKeyPems[0]);
  const baseReceipts = receiptSettings({});
  const receipts: ReceiptSettings = {
    lighthouseApiKey: opts.receipts?.lighthouseApiKey ?? null,
    lighthouseUrl: opts.receipts?.lighthouseUrl ?? null,
    pin: { ...baseReceipts.pin, ...opts.receipts?.pin },
    chain: { ...baseReceipts.chain, ...opts.receipts?.chain },
  };
  const payouts: PayoutSettings = { ...payoutSettings({}), ...opts.payouts };
  const baseReputation = reputationSettings({});
  const reputation: ReputationSettings = {
    policy: { ...baseReputation.policy, ...opts.reputation?.policy },
    sweepIntervalMs: opts.reputation?.sweepIntervalMs ?? baseReputation.sweepIntervalMs,
    decisionsSignEveryMs: opts.reputation?.decisionsSignEveryMs ?? baseReputation.decisionsSignEveryMs,
    challenge: { ...baseReputation.challenge, waitMs: 1000, timeoutMs: 10_000 },
    token: { ...baseReputation.token, ...opts.reputation?.token },
  };
  const baseAudits = auditSettings({});
  const audits: AuditSettings = {
    ...baseAudits,
    rateBps: 0,
    probationRateBps: 0,
    ...opts.audits,
    limits: { ...baseAudits.limits, ...opts.audits?.limits },
  };

  const bypass = opts.runnerEndpoint?.bypass ?? false;
  // The platform's processes always seal payloads (they require keys); only the in-process parts can run without.
  if (bypass && (opts.orchestrator === 'process' || opts.gateway === 'process')) throw new Error('runnerEndpoint.bypass runs the orchestrator and gateway in-process only');
  const payloadKeys = opts.payloadKeys ?? payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1') });
  const temporalTls = opts.temporalTls;
  if (temporalTls && !opts.replicas) throw new Error('temporalTls runs the gateway, orchestrator and runner endpoint as processes: give replicas');
  const clientConnection = await Connection.connect({
    address: temporalAddress,
    ...(temporalTls ? { tls: { serverRootCACertificate: readFileSync(temporalTls.caFile), serverNameOverride: temporalTls.serverName } } : {}),
  });
  // The processes read these as every deployment does (platform/temporal.ts).
  const processEnv = { ...(temporalTls ? { TRD_TEMPORAL_TLS_CA_FILE: temporalTls.caFile, TRD_TEMPORAL_TLS_SERVER_NAME: temporalTls.serverName } : {}), ...opts.processEnv };
  const client = new Client({ connection: clientConnection, namespace, dataConverter: bypass ? undefined : platformDataConverter(payloadKeys) });
  const settings = localGatewaySettings(opts.settings, opts.jobLimits, opts.payouts);

  // The one-shot setup (orchestrator/setup.ts does the same for a deployment): the database came
  // migrated from the template; search attributes and schedules are written here, once.
  await ensureTemporalSetup(client, namespace, payouts, reputation, { ...warmPoolSettings({}), ...opts.warmPool });

  const replicaCount = (kind: ReplicaKind) => Math.max(0, Math.floor(opts.replicas?.[kind] ?? 0));
  const signingKeyPublishMs = opts.signingKeyPublishMs ?? 0;
  const orchestratorEnv = (): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    TRD_TEMPORAL_ADDRESS: temporalAddress,
    TRD_TEMPORAL_NAMESPACE: namespace,
    // Every key it holds, oldest first (platform/signing-key.ts reads several PEM blocks).
    TRD_RECEIPT_SIGNING_KEY: signingKeyPems.join('\n'),
    TRD_SIGNING_KEY_PUBLISH_MS: String(signingKeyPublishMs),
    ...payloadKeysEnv(payloadKeys),
    TRD_WORKFLOW_BUNDLE: services.workflowBundlePath,
    ...declaredSettingsEnv('gateway.dispatch', settings.dispatch),
    ...receiptSettingsEnv(receipts),
    ...payoutSettingsEnv(payouts),
    ...reputationSettingsEnv(reputation),
    ...auditSettingsEnv(audits),
    CHECKPOINT_DISABLE: '1',
    ...processEnv,
  });
  const orchestratorProcess = (name: string) =>
    restartable(async () => {
      const child = opts.orchestratorScript
        ? startProcess(name, process.execPath, [opts.orchestratorScript], { env: orchestratorEnv(), echo: opts.echo })
        : startTsProcess(name, 'orchestrator/main.ts', { env: orchestratorEnv(), echo: opts.echo });
      await child.waitFor(/orchestrator: polling/, 90_000);
      return (signal) => child.stop(signal);
    });
  const orchestrators =
    replicaCount('orchestrator') > 0
      ? Array.from({ length: replicaCount('orchestrator') }, (_, i) => orchestratorProcess(`orchestrator-${i + 1}`))
      : [
          opts.orchestrator === 'process'
            ? orchestratorProcess('orchestrator')
            : restartable(async () => {
                const connection = await NativeConnection.connect({ address: temporalAddress });
                const worker: Worker = await createOrchestratorWorker({
                  connection,
                  namespace,
                  client,
                  dispatch: settings.dispatch,
                  db,
                  signingKeys: await Promise.all(signingKeyPems.map(signingKeyFromPem)),
                  signingKeyLifecycle: { publishMs: signingKeyPublishMs, refreshMs: 1000 },
                  payloadKeys: bypass ? null : payloadKeys,
                  receipts,
                  payouts,
                  reputation,
                  audits,
                  cascade: settings.cascade,
                  clock: opts.clock,
                  workflowBundlePath: services.workflowBundlePath,
                });
                const running = worker.run();
                return async () => {
                  worker.shutdown();
                  await running;
                  await connection.close();
                };
              }),
        ];
  // One after another: each publishes its keys before the next starts.
  for (const o of orchestrators) await o.start();
  const orchestrator = { start: async () => { for (const o of orchestrators) await o.start(); }, stop: async (signal?: NodeJS.Signals) => { await Promise.all(orchestrators.map((o) => o.stop(signal))); } };

  const gatewayPorts = await Promise.all(Array.from({ length: Math.max(1, replicaCount('gateway')) }, (_, i) => (i === 0 && opts.gatewayPort ? opts.gatewayPort : freePort())));
  const port = gatewayPorts[0];
  const gatewayProcess = (name: string, p: number) =>
    restartable(async () => {
      const child = startTsProcess(name, 'gateway/main.ts', {
        env: {
          DATABASE_URL: databaseUrl,
          TRD_TEMPORAL_ADDRESS: temporalAddress,
          TRD_TEMPORAL_NAMESPACE: namespace,
          CHECKPOINT_DISABLE: '1',
          ...payloadKeysEnv(payloadKeys),
          ...settingsEnv(settings, p),
          ...processEnv,
        },
        echo: opts.echo,
      });
      await child.waitFor(/gateway: listening/, 60_000);
      return (signal) => child.stop(signal);
    });
  const gateways =
    replicaCount('gateway') > 0
      ? gatewayPorts.map((p, i) => gatewayProcess(`gateway-${i + 1}`, p))
      : [
          opts.gateway === 'process'
            ? gatewayProcess('gateway', port)
            : restartable(async () => {
                const streams = new JobStreams(db, { databaseUrl });
                const server: Server = await new Promise((resolve) => {
                  // Listening on the database too: the orchestrator's upstream calls publish a stream's text there (the cascade).
                  const s = createGatewayApp({ db, temporal: client, settings, streams, payloadKeys: bypass ? null : payloadKeys }).listen(port, '127.0.0.1', () => resolve(s));
                });
                return async () => {
                  await closeHttpServer(server);
                  await streams.close();
                };
              }),
        ];
  await Promise.all(gateways.map((g) => g.start()));
  const gateway = { start: async () => { await Promise.all(gateways.map((g) => g.start())); }, stop: async (signal?: NodeJS.Signals) => { await Promise.all(gateways.map((g) => g.stop(signal))); } };

  const tlsDir = mkdtempSync(join(tmpdir(), 'trd-tls-'));
  const tls = localTls(tlsDir);
  const refreshMs = opts.runnerEndpoint?.refreshMs ?? 250;
  let proxy: RunnerProxy | null = null;
  let endpoints: ReturnType<typeof restartable>[] = [];
  let endpointAddresses: string[];
  if (replicaCount('runnerEndpoint') > 0) {
    const ports = await Promise.all(Array.from({ length: replicaCount('runnerEndpoint') }, () => freePort()));
    endpointAddresses = ports.map((p) => `127.0.0.1:${p}`);
    endpoints = ports.map((p, i) =>
      restartable(async () => {
        const child = startTsProcess(`runner-endpoint-${i + 1}`, 'runner-proxy/main.ts', {
          env: {
            DATABASE_URL: databaseUrl,
            TRD_TEMPORAL_ADDRESS: temporalAddress,
            TRD_TEMPORAL_NAMESPACE: namespace,
            TRD_RUNNER_ENDPOINT_HOST: '127.0.0.1',
            TRD_RUNNER_ENDPOINT_PORT: String(p),
            TRD_RUNNER_ENDPOINT_TLS_KEY_FILE: join(tlsDir, 'server.key'),
            TRD_RUNNER_ENDPOINT_TLS_CERT_FILE: join(tlsDir, 'server.pem'),
            TRD_RUNNER_ENDPOINT_REFRESH_MS: String(refreshMs),
            CHECKPOINT_DISABLE: '1',
            ...payloadKeysEnv(payloadKeys),
            ...processEnv,
          },
          echo: opts.echo,
        });
        await child.waitFor(/runner-endpoint: listening/, 60_000);
        return (signal) => child.stop(signal);
      }),
    );
    await Promise.all(endpoints.map((e) => e.start()));
  } else {
    proxy = await startRunnerProxy({
      db,
      keys: payloadKeys,
      settings: {
        upstream: temporalAddress,
        namespace,
        tls,
        host: '127.0.0.1',
        port: 0,
        refreshMs,
        ...RUNNER_ENDPOINT_DEFAULTS,
        upstreamPing: { intervalMs: 2000, timeoutMs: 5000 },
      },
      log: opts.echo && ((line) => opts.echo!(`[runner-endpoint] ${line}`)),
    });
    endpointAddresses = [`127.0.0.1:${proxy.port}`];
  }
  const runnerEndpoint = { address: endpointAddresses[0], addresses: endpointAddresses, tls, proxy };
  const replicaSets: Record<ReplicaKind, ReturnType<typeof restartable>[]> = { gateway: gateways, orchestrator: orchestrators, runnerEndpoint: endpoints };

  const runnerConnectionArgs = (endpoint = 0) => [
    ...(bypass ? ['--temporal-address', temporalAddress] : ['--temporal-address', endpointAddresses[endpoint], '--tls-ca', tls.caFile, '--tls-server-name', tls.serverName]),
    '--namespace', namespace,
  ];

  const runners: ManagedProcess[] = [];
  const gatewayUrls = gatewayPorts.map((p) => `http://127.0.0.1:${p}`);
  const baseUrl = gatewayUrls[0];
  const newApiKey = async (name = 'local customer') => createApiKey(db, await createCustomer(db, name), 'local');

  return {
    baseUrl,
    gatewayUrls,
    db,
    client,
    namespace,
    databaseUrl,
    temporalAddress,
    runnerEndpoint,
    payloadKeys,
    runnerConnectionArgs,
    get signingKey() {
      return signingKey;
    },
    apiKey: await newApiKey(),
    settings,
    newApiKey,
    stopOrchestrator: orchestrator.stop,
    startOrchestrator: orchestrator.start,
    async rotateSigningKey() {
      await orchestrator.stop();
      signingKeyPems = [generateSigningKeyPem()];
      signingKey = await signingKeyFromPem(signingKeyPems[0]);
      await orchestrator.start();
      return signingKey;
    },
    async addSigningKey() {
      const pem = generateSigningKeyPem();
      signingKeyPems = [...signingKeyPems, pem];
      signingKey = await signingKeyFromPem(pem);
      return signingKey;
    },
    replica(kind, index) {
      const r = replicaSets[kind][index];
      if (!r) throw new Error(`no ${kind} replica ${index}: start the platform with replicas: { ${kind}: ${index + 1} } or more`);
      return r;
    },
    stopGateway: gateway.stop,
    startGateway: gateway.start,
    async startRunner(o = {}) {
      const workerId = o.workerId ?? `test-runner-${runners.length + 1}`;
      const token = o.token ?? (await createRunnerToken(db, workerId, o.tier));
      const runner = startTrdWorker(
        workerId,
        [
          'start',
          ...(o.models ?? ['trd-tiny']).flatMap((m) => ['--model', m]),
          '--load', o.load ?? 'on-start',
          '--models-dir', o.modelsDir ?? services.modelsDir,
          '--gateway-url', gatewayUrls[o.gateway ?? 0],
          ...runnerConnectionArgs(o.endpoint ?? 0),
          '--shutdown-grace-ms', '2000',
          ...(o.extraArgs ?? []),
        ],
        { env: { TRD_RUNNER_TOKEN: token, ...o.env }, echo: opts.echo },
      );
      runners.push(runner);
      await runner.waitFor(/trd-worker: serving/, o.readyTimeoutMs ?? 60_000);
      return runner;
    },
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
      await gateway.stop();
      await orchestrator.stop();
      await proxy?.close();
      await Promise.all(endpoints.map((e) => e.stop()));
      rmSync(tlsDir, { recursive: true, force: true });
      await clientConnection.close();
      await db.$disconnect();
    },
  };
}

type Stop = (signal: NodeJS.Signals) => Promise<void>;

/** A part that can be stopped (by a signal, when it is a process: SIGKILL is a crash) and started again. */
function restartable(start: () => Promise<Stop>) {
  let stopCurrent: Stop | null = null;
  return {
    start: async () => {
      stopCurrent = await start();
    },
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      const stop = stopCurrent;
      stopCurrent = null;
      await stop?.(signal);
    },
  };
}

/**
 * A local gateway's settings (tests, the benchmark, the cluster): the defaults with a test's
 * overrides, nested groups merged field by field, so overriding one field keeps the group's others.
 */
export function localGatewaySettings(overrides: Partial<GatewaySettings> = {}, jobLimits: Partial<JobLimits> = {}, payouts?: { stripe?: GatewaySettings['stripe']; chain?: GatewaySettings['chain'] }): GatewaySettings {
  const base = gatewaySettings({});
  return {
    ...base,
    ...overrides,
    jobLimits: { ...base.jobLimits, ...overrides.jobLimits, ...jobLimits },
    dispatch: { ...base.dispatch, ...overrides.dispatch },
    login: { ...base.login, ...overrides.login },
    reservation: { ...base.reservation, ...overrides.reservation },
    dashboard: { ...base.dashboard, ...overrides.dashboard },
    rateLimits: { ...base.rateLimits, ...overrides.rateLimits },
    codec: { ...base.codec, ...overrides.codec },
    // A stopped gateway process lets responses finish for 2 s (the process gets 15 s before SIGKILL).
    http: { ...base.http, drainMs: 2000, ...overrides.http },
    stripe: payouts?.stripe ?? overrides.stripe ?? base.stripe,
    chain: payouts?.chain ?? overrides.chain ?? base.chain,
  };
}

/**
 * The environment that makes gateway/main.ts use these settings (gateway/settings.ts reads it):
 * every setting declared `at` a gateway field (protocol/src/settings.ts), and Stripe's and the chain's.
 */
export function settingsEnv(settings: GatewaySettings, port: number): Record<string, string> {
  return {
    TRD_GATEWAY_PORT: String(port),
    TRD_GATEWAY_HOST: '127.0.0.1',
    ...declaredSettingsEnv('gateway', settings),
    ...stripeSettingsEnv(settings.stripe),
    ...chainSettingsEnv(settings.chain),
  };
}
