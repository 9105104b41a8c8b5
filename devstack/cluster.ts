/**
 * The cluster mode of the local stack (`npm run dev -- --cluster`, the
 * cluster tests and the cluster benchmark): a real Temporal cluster
 * (devstack/temporal-cluster.ts), and every platform process replicated as
 * its own OS process behind HAProxy (devstack/load-balancer.ts):
 *
 *   clients ──► haproxy :gateway ──► gateway × N ──┐
 *   runners ──► haproxy :runners (TLS passthrough) ──► runner endpoint × N ──┤
 *                                  orchestrator × N ──┤
 *                                   haproxy :temporal (h2, per call) ──► Temporal node × N ──► PostgreSQL (Temporal's own)
 *
 * Every platform process talks to Temporal through the balancer, never to one
 * node, so a node's death costs calls in flight only. The platform's database
 * is one on the platform's PostgreSQL (a clone of the migrated template, as
 * devstack/platform.ts makes).
 */
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustTier } from '@trd/protocol';
import { settingsEnv as declaredSettingsEnv } from '@trd/protocol/settings';
import { createApiKey, createCustomer } from '../gateway/api-keys.js';
import { createRunnerToken } from '../gateway/runners.js';
import { longestSilenceMs, type GatewaySettings } from '../gateway/settings.js';
import { createDb, type Db } from '../platform/db.js';
import { newPayloadKey, payloadKeysEnv, payloadKeysFromEnv, platformDataConverter, type PayloadKeys } from '../platform/payload-encryption.js';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../platform/signing-key.js';
import { receiptSettings, receiptSettingsEnv } from '../receipts/settings.js';
import { payoutSettings, payoutSettingsEnv } from '../economy/payout-settings.js';
import { auditSettings, auditSettingsEnv } from '../audits/settings.js';
import type { JobLimits } from '../platform/workflow-api.js';
import { startLoadBalancer, waitForServerState, type LoadBalancer, type LoadBalancerSettings } from './load-balancer.js';
import { localGatewaySettings, settingsEnv } from './platform.js';
import { freePort } from './ports.js';
import { createDatabase } from './postgres.js';
import { startTrdWorker, startTsProcess, type ManagedProcess } from './processes.js';
import { TEMPLATE_DB, type ServiceEndpoints } from './services.js';
import { startTemporalCluster, type TemporalCluster, type TemporalClusterSettings } from './temporal-cluster.js';
import { localTls, type LocalTls } from './tls.js';

export interface ClusterShape {
  temporalNodes: number;
  gateways: number;
  runnerEndpoints: number;
  orchestrators: number;
}

export const DEFAULT_SHAPE: ClusterShape = { temporalNodes: 2, gateways: 2, runnerEndpoints: 2, orchestrators: 2 };

/** One replica of a platform process: its own port (when it listens), stopped and started by a test. */
export interface Replica {
  /** Its name, also the HAProxy server name (`gateway-1`, `endpoint-2`, `orchestrator-1`). */
  name: string;
  /** Where it listens itself (not through the balancer); '' for an orchestrator. */
  address: string;
  running(): boolean;
  start(): Promise<void>;
  /** SIGTERM by default (an orderly stop); SIGKILL is a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface LocalCluster {
  /** The gateways through the balancer: what customers and runners use. */
  baseUrl: string;
  /** The runner endpoints through the balancer (TLS). */
  runnerAddress: string;
  /** Temporal through the balancer (plaintext h2). */
  temporalAddress: string;
  namespace: string;
  db: Db;
  databaseUrl: string;
  client: Client;
  apiKey: string;
  payloadKeys: PayloadKeys;
  tls: LocalTls;
  temporal: TemporalCluster;
  lb: LoadBalancer;
  gateways: Replica[];
  runnerEndpoints: Replica[];
  orchestrators: Replica[];
  runners: ManagedProcess[];
  /** Registers a runner and starts `trd-worker start` through the balancers; resolves when it polls. */
  startRunner(opts?: { workerId?: string; tier?: TrustTier; extraArgs?: string[]; env?: NodeJS.ProcessEnv }): Promise<ManagedProcess>;
  newApiKey(name?: string): Promise<string>;
  /** Waits until HAProxy's checks see a replica as `UP` or `DOWN` (`service` is gateway, runners or temporal). */
  waitForBackend(service: 'gateway' | 'runners' | 'temporal', name: string, state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  /** The environment each orchestrator starts with; a test may change it before restarting one. */
  orchestratorEnv: Record<string, string>;
  /**
   * Adds a new receipt-signing key after the ones held (orchestratorEnv): each orchestrator
   * (re)started from now on holds them all and publishes the new one, which becomes active
   * the publish time after (orchestrator/signing-keys.ts). A rotation is this, then a rolling restart.
   */
  addSigningKey(): Promise<SigningKey>;
  stop(): Promise<void>;
}

export async function startCluster(
  services: Omit<ServiceEndpoints, 'temporalAddress'>,
  opts: {
    dir: string;
    namespace?: string;
    shape?: Partial<ClusterShape>;
    temporal?: Partial<Omit<TemporalClusterSettings, 'nodes'>>;
    lb?: Partial<LoadBalancerSettings>;
    jobLimits?: Partial<JobLimits>;
    settings?: Partial<GatewaySettings>;
    /** Fixed listening ports for the balancer (the dev stack's well-known ones); free ones otherwise. */
    ports?: { gateway?: number; runners?: number; temporal?: number };
    /** An existing database (the dev stack's, kept across starts); a fresh clone of the template otherwise. */
    databaseUrl?: string;
    /** The dev stack keeps these across starts (one or several PEM blocks, oldest first). */
    signingKeyPem?: string;
    /** TRD_SIGNING_KEY_PUBLISH_MS and TRD_SIGNING_KEY_REFRESH_MS of every orchestrator; their defaults otherwise. */
    signingKeyPublishMs?: number;
    signingKeyRefreshMs?: number;
    payloadKeys?: PayloadKeys;
    persistent?: boolean;
    echo?: (line: string) => void;
  },
): Promise<LocalCluster> {
  const shape = { ...DEFAULT_SHAPE, ...opts.shape };
  const namespace = opts.namespace ?? 'default';
  const echo = opts.echo;
  mkdirSync(opts.dir, { recursive: true });
  // The folders on the way to Temporal's PostgreSQL data must be traversable by the `postgres` user (as root).
  chmodSync(opts.dir, 0o755);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const temporalLbPort = opts.ports?.temporal ?? (await freePort());
    const temporal = await startTemporalCluster({
      dir: join(opts.dir, 'temporal'),
      frontendAddress: `127.0.0.1:${temporalLbPort}`,
      namespaces: [namespace],
      settings: { ...opts.temporal, nodes: shape.temporalNodes },
      persistent: opts.persistent,
      echo,
    });
    stops.push(() => temporal.stop());

    const tls = localTls(join(opts.dir, 'tls'));
    // HAProxy presents nothing of its own for passthrough; the file is there for `h2-tls`.
    writeFileSync(join(opts.dir, 'tls', 'server-combined.pem'), `${tls.cert}\n${tls.key}`, { mode: 0o600 });
    const gatewayBase = localGatewaySettings(opts.settings, opts.jobLimits);
    const gatewayPorts = await ports(shape.gateways);
    const endpointPorts = await ports(shape.runnerEndpoints);
    const lb = await startLoadBalancer({
      dir: join(opts.dir, 'haproxy'),
      settings: opts.lb,
      echo,
      services: [
        { name: 'temporal', kind: 'h2c', port: temporalLbPort, backends: temporal.nodes.map((n) => ({ name: `temporal-${n.index + 1}`, address: n.address })) },
        { name: 'gateway', kind: 'http', port: opts.ports?.gateway, healthPath: '/healthz', holdMs: longestSilenceMs(gatewayBase), backends: gatewayPorts.map((p, i) => ({ name: `gateway-${i + 1}`, address: `127.0.0.1:${p}` })) },
        { name: 'runners', kind: 'tcp', port: opts.ports?.runners, backends: endpointPorts.map((p, i) => ({ name: `endpoint-${i + 1}`, address: `127.0.0.1:${p}` })) },
      ],
    });
    stops.push(() => lb.stop());
    const temporalAddress = lb.addresses.temporal;
    const baseUrl = `http://${lb.addresses.gateway}`;

    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
      const dbName = `c_${randomBytes(6).toString('hex')}`;
      await createDatabase(services.pgAdminUrl, dbName, TEMPLATE_DB);
      databaseUrl = `${services.pgUrlPrefix}${dbName}`;
    }
    const db = createDb(databaseUrl);
    stops.push(() => db.$disconnect());
    const payloadKeys = opts.payloadKeys ?? payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1') });
    const clientConnection = await Connection.connect({ address: temporalAddress });
    stops.push(() => clientConnection.close());
    const client = new Client({ connection: clientConnection, namespace, dataConverter: platformDataConverter(payloadKeys) });

    const settings: GatewaySettings = {
      ...gatewayBase,
      // Gateways build URLs to themselves for customers and runners: the balancer's.
      publicUrl: opts.settings?.publicUrl ?? baseUrl,
    };
    const common = {
      DATABASE_URL: databaseUrl,
      TRD_TEMPORAL_ADDRESS: temporalAddress,
      TRD_TEMPORAL_NAMESPACE: namespace,
      CHECKPOINT_DISABLE: '1',
      ...payloadKeysEnv(payloadKeys),
    };
    const orchestratorEnv: Record<string, string> = {
      ...common,
      // Every key it holds, oldest first (platform/signing-key.ts reads several PEM blocks).
      TRD_RECEIPT_SIGNING_KEY: opts.signingKeyPem ?? generateSigningKeyPem(),
      ...(opts.signingKeyPublishMs !== undefined ? { TRD_SIGNING_KEY_PUBLISH_MS: String(opts.signingKeyPublishMs) } : {}),
      ...(opts.signingKeyRefreshMs !== undefined ? { TRD_SIGNING_KEY_REFRESH_MS: String(opts.signingKeyRefreshMs) } : {}),
      TRD_WORKFLOW_BUNDLE: services.workflowBundlePath,
      ...declaredSettingsEnv('gateway.dispatch', settings.dispatch),
      ...receiptSettingsEnv(receiptSettings({})),
      ...payoutSettingsEnv(payoutSettings({})),
      // No audits: the runners do only the work a test or the benchmark gives them.
      ...auditSettingsEnv({ ...auditSettings({}), rateBps: 0, probationRateBps: 0 }),
    };

    const gateways = gatewayPorts.map((port, i) =>
      replica(`gateway-${i + 1}`, `127.0.0.1:${port}`, () => startTsProcess(`gateway-${i + 1}`, 'gateway/main.ts', { env: { ...common, ...settingsEnv(settings, port) }, echo }), /gateway: listening/),
    );
    const runnerEndpoints = endpointPorts.map((port, i) =>
      replica(
        `endpoint-${i + 1}`,
        `127.0.0.1:${port}`,
        () =>
          startTsProcess(`endpoint-${i + 1}`, 'runner-proxy/main.ts', {
            env: {
              ...common,
              TRD_RUNNER_ENDPOINT_HOST: '127.0.0.1',
              TRD_RUNNER_ENDPOINT_PORT: String(port),
              TRD_RUNNER_ENDPOINT_TLS_KEY_FILE: join(opts.dir, 'tls', 'server.key'),
              TRD_RUNNER_ENDPOINT_TLS_CERT_FILE: join(opts.dir, 'tls', 'server.pem'),
              TRD_RUNNER_ENDPOINT_REFRESH_MS: '500',
            },
            echo,
          }),
        /runner-endpoint: listening/,
      ),
    );
    const orchestrators = Array.from({ length: shape.orchestrators }, (_, i) =>
      replica(`orchestrator-${i + 1}`, '', () => startTsProcess(`orchestrator-${i + 1}`, 'orchestrator/main.ts', { env: { ...orchestratorEnv }, echo }), /orchestrator: polling/),
    );
    const replicas = [...orchestrators, ...gateways, ...runnerEndpoints];
    stops.push(() => Promise.all(replicas.map((r) => r.stop())).then(() => {}));
    // The first orchestrator registers schedules and search attributes alone; the rest start together.
    await orchestrators[0].start();
    await Promise.all(replicas.slice(1).map((r) => r.start()));

    const waitForBackend: LocalCluster['waitForBackend'] = (service, name, state, timeoutMs = 30_000) => waitForServerState(lb, `${service}/${name}`, state, timeoutMs);
    await Promise.all([
      ...gateways.map((g) => waitForBackend('gateway', g.name, 'UP')),
      ...runnerEndpoints.map((e) => waitForBackend('runners', e.name, 'UP')),
    ]);

    const runners: ManagedProcess[] = [];
    stops.push(() => Promise.all(runners.map((r) => r.stop())).then(() => {}));
    const newApiKey = async (name = 'local customer') => createApiKey(db, await createCustomer(db, name), 'local');
    const cluster: LocalCluster = {
      baseUrl,
      runnerAddress: lb.addresses.runners,
      temporalAddress,
      namespace,
      db,
      databaseUrl,
      client,
      apiKey: await newApiKey(),
      payloadKeys,
      tls,
      temporal,
      lb,
      gateways,
      runnerEndpoints,
      orchestrators,
      runners,
      orchestratorEnv,
      newApiKey,
      waitForBackend,
      async addSigningKey() {
        const pem = generateSigningKeyPem();
        orchestratorEnv.TRD_RECEIPT_SIGNING_KEY = `${orchestratorEnv.TRD_RECEIPT_SIGNING_KEY.trim()}\n${pem}`;
        return signingKeyFromPem(pem);
      },
      async startRunner(o = {}) {
        const workerId = o.workerId ?? `cluster-runner-${runners.length + 1}`;
        const token = await createRunnerToken(db, workerId, o.tier);
        const runner = startTrdWorker(
          workerId,
          [
            'start',
            '--model', 'trd-tiny',
            '--load', 'on-start',
            '--models-dir', services.modelsDir,
            '--gateway-url', baseUrl,
            '--temporal-address', lb.addresses.runners,
            '--tls-ca', tls.caFile,
            '--tls-server-name', tls.serverName,
            '--namespace', namespace,
            '--shutdown-grace-ms', '2000',
            ...(o.extraArgs ?? []),
          ],
          { env: { TRD_RUNNER_TOKEN: token, ...o.env }, echo },
        );
        runners.push(runner);
        await runner.waitFor(/trd-worker: serving/, 60_000);
        return runner;
      },
      stop: stopAll,
    };
    return cluster;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function ports(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

function replica(name: string, address: string, spawn: () => ManagedProcess, ready: RegExp): Replica {
  let proc: ManagedProcess | null = null;
  const alive = () => proc !== null && proc.child.exitCode === null && proc.child.signalCode === null;
  return {
    name,
    address,
    running: alive,
    async start() {
      if (alive()) return;
      proc = spawn();
      await proc.waitFor(ready, 120_000);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const p = proc;
      proc = null;
      await p?.stop(signal);
    },
  };
}

/** Removes a cluster's folder (the tests' and the benchmark's, after stop). */
export function removeClusterDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
