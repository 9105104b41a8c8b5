/**
 * A real Temporal cluster for the cluster mode and its kill tests: the
 * Temporal server (go.temporal.io/server, built by scripts/setup.sh --cluster)
 * on PostgreSQL, several history shards, and N server processes that form one
 * cluster. Each process runs all four services (frontend, history, matching,
 * worker) on its own ports; the processes find each other through the
 * cluster_membership table and gossip on 127.0.0.1, and the history shards
 * move to the survivors when one dies.
 *
 * PostgreSQL is an embedded instance of its own (databases `temporal` and
 * `temporal_visibility`), never the platform's server: Temporal's pools and
 * load stay apart from the ledger's, as they would on separate machines.
 */
import { Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { envInt } from '../platform/env.js';
import { freePort } from './ports.js';
import { startLocalPostgres, type LocalPostgres } from './postgres.js';
import { startProcess, type ManagedProcess } from './processes.js';
import { waitForTemporal } from './temporal.js';

const run = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = '1.32.2';

export interface TemporalServerBinaries {
  /** `cmd/server` */
  server: string;
  /** `cmd/tools/sql` (upstream's temporal-sql-tool) */
  sql: string;
  /** The module's schema/postgresql/v12 folder (temporal/ and visibility/ with versioned/ each). */
  schemaDir: string;
}

/**
 * Where scripts/setup.sh --cluster put the server: TRD_TEMPORAL_SERVER_DIR, else
 * ~/.cache/trd/temporal-server-<version>; the schema files come from Go's module cache
 * (TRD_TEMPORAL_SCHEMA_DIR overrides). Throws, saying how to build it, when absent.
 */
export function findTemporalServer(env = process.env): TemporalServerBinaries {
  const dir = env.TRD_TEMPORAL_SERVER_DIR || join(homedir(), '.cache', 'trd', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const schemaDir = env.TRD_TEMPORAL_SCHEMA_DIR || join(temporalServerSource(env), 'schema', 'postgresql', 'v12');
  const found = { server: join(dir, 'server'), sql: join(dir, 'sql'), schemaDir };
  const missing = [found.server, found.sql, join(schemaDir, 'temporal', 'versioned')].filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`the Temporal server is not built (missing ${missing.join(', ')}): run \`bash scripts/setup.sh --cluster\``);
  return found;
}

/** The server's module source in Go's module cache (its schema files and config templates). */
/**
 * The parts of a Temporal server config that are the same for every server we run: one cluster
 * (no global namespaces, no archival) whose frontend is `rpcAddress`, dynamic config from a file.
 */
export function singleClusterConfig(rpcAddress: string, dynamicConfigFile: string) {
  return {
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

export function temporalServerSource(env = process.env): string {
  const modCache = env.GOMODCACHE || join(env.GOPATH || join(homedir(), 'go'), 'pkg', 'mod');
  return join(modCache, 'go.temporal.io', `server@v${TEMPORAL_SERVER_VERSION}`);
}

export interface TemporalClusterSettings {
  /** Server processes (nodes) in the cluster. */
  nodes: number;
  /** History shards; fixed once the cluster's database exists. */
  shards: number;
  /** How often every node re-reads namespaces (a new namespace is usable everywhere after it). */
  namespaceRefreshMs: number;
}

export function temporalClusterSettings(env: Record<string, string | undefined> = process.env): TemporalClusterSettings {
  return {
    nodes: envInt(env, 'TRD_TEMPORAL_NODES'),
    shards: envInt(env, 'TRD_TEMPORAL_SHARDS'),
    namespaceRefreshMs: envInt(env, 'TRD_TEMPORAL_NAMESPACE_REFRESH_MS'),
  };
}

export interface TemporalNode {
  index: number;
  /** This node's frontend (gRPC). */
  address: string;
  running(): boolean;
  /** Starts the node again on its ports (after stop); resolves when its frontend answers. */
  start(): Promise<void>;
  /** SIGTERM by default; SIGKILL is a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface TemporalCluster {
  nodes: TemporalNode[];
  /** Every node's frontend address. */
  frontends: string[];
  settings: TemporalClusterSettings;
  /** Registers namespaces (no-op for those that exist) and waits until every running node serves them. */
  ensureNamespaces(namespaces: string[]): Promise<void>;
  stop(): Promise<void>;
}

interface NodePorts {
  grpc: { frontend: number; history: number; matching: number; worker: number };
  membership: { frontend: number; history: number; matching: number; worker: number };
  http: number;
}

const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;

/**
 * Starts PostgreSQL (under `dir`), sets up Temporal's two schemas with the
 * schema tool (create, setup-schema -v 0.0, update-schema to the newest
 * version: what an operator runs once), then the nodes, and registers the
 * namespaces. A second start on the same `dir` finds the schema in place.
 */
export async function startTemporalCluster(opts: {
  dir: string;
  namespaces?: string[];
  settings?: Partial<TemporalClusterSettings>;
  binaries?: TemporalServerBinaries;
  echo?: (line: string) => void;
  /** Keep PostgreSQL's data across stops (the dev stack); tests throw it away. */
  persistent?: boolean;
  pgPort?: number;
  /** The address clients reach the cluster at (a balancer in front of every frontend); the first node's by default. */
  frontendAddress?: string;
}): Promise<TemporalCluster> {
  const settings = { ...temporalClusterSettings({}), ...opts.settings };
  const binaries = opts.binaries ?? findTemporalServer();
  mkdirSync(opts.dir, { recursive: true });
  // PostgreSQL runs as the `postgres` user when we are root; it must reach its data folder.
  chmodSync(opts.dir, 0o755);
  const postgres = await startLocalPostgres({
    dataDir: join(opts.dir, 'postgres'),
    port: opts.pgPort ?? (await freePort()),
    persistent: opts.persistent ?? false,
    // Each node opens pools per service (persistence and visibility): more than PostgreSQL's default 100.
    postgresFlags: ['-c', `max_connections=${100 + 60 * settings.nodes}`],
  });
  const nodes: TemporalNode[] = [];
  try {
    const pg = new URL(postgres.urlFor('postgres'));
    await setUpSchemas(binaries, pg, opts.echo);
    const ports: NodePorts[] = [];
    for (let i = 0; i < settings.nodes; i++) ports.push(await nodePorts());
    // The cluster's own address in its metadata: the balancer's, else the first node's frontend.
    const firstFrontend = opts.frontendAddress ?? `127.0.0.1:${ports[0].grpc.frontend}`;
    for (let i = 0; i < settings.nodes; i++) nodes.push(makeNode(i, ports[i], firstFrontend, opts.dir, binaries, pg, settings, opts.echo));
    // The first node creates the cluster's metadata; the others join it.
    await nodes[0].start();
    await Promise.all(nodes.slice(1).map((n) => n.start()));
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop('SIGKILL')));
    await postgres.stop();
    throw err;
  }
  const cluster: TemporalCluster = {
    nodes,
    frontends: nodes.map((n) => n.address),
    settings,
    ensureNamespaces: (namespaces) => ensureNamespaces(nodes, namespaces, settings.namespaceRefreshMs),
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      await stopPostgres(postgres);
    },
  };
  await cluster.ensureNamespaces(['default', ...(opts.namespaces ?? [])]);
  return cluster;
}

async function stopPostgres(postgres: LocalPostgres): Promise<void> {
  await postgres.stop().catch(() => {});
}

/** The schema tool's steps for both databases; each is a no-op when already done. */
async function setUpSchemas(binaries: TemporalServerBinaries, pg: URL, echo?: (line: string) => void): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', pg.hostname, '-p', pg.port, '-u', decodeURIComponent(pg.username), '--pw', decodeURIComponent(pg.password)];
  for (const [db, folder] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    const sql = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await run(binaries.sql, [...base, '--db', db, ...args], { maxBuffer: 16 * 1024 * 1024 });
        echo?.(`[temporal-sql] ${db} ${args[0]}: ${(stdout + stderr).trim().split('\n').slice(-1)[0] ?? ''}`);
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string; message: string };
        throw new Error(`temporal sql tool ${db} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-5).join(' | ')}`);
      }
    };
    if (!(await databaseExists(pg, db))) await sql('create');
    // setup-schema -v 0.0 makes the version table; update-schema applies every versioned step not yet applied.
    if (!(await tableExists(pg, db, 'schema_version'))) await sql('setup-schema', '-v', '0.0');
    await sql('update-schema', '-d', join(binaries.schemaDir, folder, 'versioned'));
  }
}

async function query<T>(url: URL, db: string, text: string, values: unknown[]): Promise<T[]> {
  const { default: pgLib } = await import('pg');
  const u = new URL(url);
  u.pathname = `/${db}`;
  const client = new pgLib.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

async function databaseExists(pg: URL, db: string): Promise<boolean> {
  return (await query(pg, 'postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [db])).length > 0;
}

async function tableExists(pg: URL, db: string, table: string): Promise<boolean> {
  return (await query(pg, db, 'SELECT 1 FROM information_schema.tables WHERE table_name = $1', [table])).length > 0;
}

/**
 * A port free now below 32768: Temporal stores membership ports in a PostgreSQL
 * smallint (cluster_membership.rpc_port), and the OS hands out ports above it.
 */
export async function lowFreePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function nodePorts(): Promise<NodePorts> {
  const p = lowFreePort;
  return {
    grpc: { frontend: await p(), history: await p(), matching: await p(), worker: await p() },
    membership: { frontend: await p(), history: await p(), matching: await p(), worker: await p() },
    http: await p(),
  };
}

/**
 * The server's configuration (config/development.yaml; JSON is YAML): the
 * upstream development-postgres12 template with our database, ports, shards.
 */
function serverConfig(ports: NodePorts, pg: URL, settings: TemporalClusterSettings, dynamicConfigFile: string, firstFrontend: string): unknown {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${pg.hostname}:${pg.port}`,
      connectProtocol: 'tcp',
      user: decodeURIComponent(pg.username),
      password: decodeURIComponent(pg.password),
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const services = Object.fromEntries(
    SERVICES.map((s) => [
      s,
      { rpc: { grpcPort: ports.grpc[s], membershipPort: ports.membership[s], bindOnLocalHost: true, ...(s === 'frontend' ? { httpPort: ports.http } : {}) } },
    ]),
  );
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: settings.shards,
      datastores: { 'postgres-default': store('temporal', 10), 'postgres-visibility': store('temporal_visibility', 2) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services,
    ...singleClusterConfig(firstFrontend, dynamicConfigFile),
  };
}

/** Dynamic config (YAML; JSON is YAML): fast namespace propagation, and search attributes readable at once after adding. */
function dynamicConfig(settings: TemporalClusterSettings): unknown {
  const one = (value: unknown) => [{ value, constraints: {} }];
  return {
    'system.namespaceCacheRefreshInterval': one(`${settings.namespaceRefreshMs}ms`),
    'system.forceSearchAttributesCacheRefreshOnRead': one(true),
    'limit.maxIDLength': one(255),
  };
}

function makeNode(
  index: number,
  ports: NodePorts,
  firstFrontend: string,
  dir: string,
  binaries: TemporalServerBinaries,
  pg: URL,
  settings: TemporalClusterSettings,
  echo?: (line: string) => void,
): TemporalNode {
  const address = `127.0.0.1:${ports.grpc.frontend}`;
  const root = join(dir, `node-${index}`);
  mkdirSync(join(root, 'config'), { recursive: true });
  const dynamicConfigFile = join(root, 'config', 'dynamic.yaml');
  writeFileSync(dynamicConfigFile, JSON.stringify(dynamicConfig(settings), null, 2));
  writeFileSync(join(root, 'config', 'development.yaml'), JSON.stringify(serverConfig(ports, pg, settings, dynamicConfigFile, firstFrontend), null, 2));
  const name = `temporal-${index + 1}`;
  let proc: ManagedProcess | null = null;
  return {
    index,
    address,
    running: () => proc !== null && proc.child.exitCode === null && proc.child.signalCode === null,
    async start() {
      if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return;
      const p = startProcess(name, binaries.server, ['--root', root, '--config', 'config', '--env', 'development', 'start'], { cwd: root, echo });
      proc = p;
      let exited: string | null = null;
      p.child.once('exit', (code, signal) => (exited = `code ${code} signal ${signal}`));
      await waitForTemporal(address, 120_000, () => exited);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const p = proc;
      proc = null;
      await p?.stop(signal, 20_000);
    },
  };
}

async function ensureNamespaces(nodes: TemporalNode[], namespaces: string[], refreshMs: number): Promise<void> {
  const live = nodes.filter((n) => n.running());
  if (!live.length) throw new Error('no Temporal node is running');
  const connection = await Connection.connect({ address: live[0].address });
  try {
    for (const namespace of namespaces) {
      try {
        // protobufjs takes a plain number where the generated type says Long.
        const retention = { seconds: 7 * 24 * 3600 } as unknown as temporal.api.workflowservice.v1.IRegisterNamespaceRequest['workflowExecutionRetentionPeriod'];
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: retention });
      } catch (err) {
        // ALREADY_EXISTS (gRPC 6): registered before, by us or an earlier start.
        if ((err as { code?: number }).code !== 6) throw err;
      }
    }
  } finally {
    await connection.close();
  }
  // Every service's namespace registry re-reads namespaces every refreshMs; history and
  // matching refuse one they have not read yet. Every frontend describing them, then two
  // refresh intervals, covers every service of every node.
  for (const node of live) {
    const c = await Connection.connect({ address: node.address });
    try {
      for (const namespace of namespaces) {
        const deadline = Date.now() + 30_000;
        for (;;) {
          try {
            await c.workflowService.describeNamespace({ namespace });
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
    } finally {
      await c.close();
    }
  }
  await new Promise((r) => setTimeout(r, refreshMs * 2 + 200));
}
