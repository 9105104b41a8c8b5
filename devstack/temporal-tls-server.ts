/**
 * One Temporal server process (the v1.32.2 build scripts/setup.sh --cluster
 * makes) whose frontend speaks only TLS, with a certificate from a private CA:
 * what a secured self-hosted cluster looks like to the platform's clients
 * (TEMPORAL_TLS_* settings, platform/temporal.ts). In-memory SQLite and one
 * shard, so it starts in seconds and leaves nothing behind. The CLI dev
 * server has no TLS options, hence the real server.
 */
import { Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from './processes.js';
import { findTemporalServer, lowFreePort, singleClusterConfig } from './temporal-cluster.js';
import { localTls, type LocalTls } from './tls.js';

export interface TlsTemporalServer {
  address: string;
  /** The CA and name a client needs (TRD_TEMPORAL_TLS_CA_FILE, TRD_TEMPORAL_TLS_SERVER_NAME). */
  tls: LocalTls;
  stop(): Promise<void>;
}

const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;

export async function startTlsTemporalServer(opts: { dir: string; namespaces: string[]; echo?: (line: string) => void }): Promise<TlsTemporalServer> {
  const binaries = findTemporalServer();
  const tls = localTls(join(opts.dir, 'tls'));
  const services: Record<string, unknown> = {};
  for (const s of SERVICES) services[s] = { rpc: { grpcPort: await lowFreePort(), membershipPort: await lowFreePort(), bindOnLocalHost: true } };
  const frontendPort = (services.frontend as { rpc: { grpcPort: number } }).rpc.grpcPort;
  const address = `127.0.0.1:${frontendPort}`;
  const store = { sql: { pluginName: 'sqlite', databaseName: 'default', connectAddr: 'localhost', connectProtocol: 'tcp', connectAttributes: { mode: 'memory', cache: 'private' }, maxConns: 1, maxIdleConns: 1, maxConnLifetime: '1h' } };
  // The frontend's listener is TLS; the server's own system worker dials it with the same CA and name.
  const client = { serverName: tls.serverName, rootCaFiles: [tls.caFile] };
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: { defaultStore: 'sqlite-default', visibilityStore: 'sqlite-visibility', numHistoryShards: 1, datastores: { 'sqlite-default': store, 'sqlite-visibility': store } },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: { frontend: { server: { certFile: join(opts.dir, 'tls', 'server.pem'), keyFile: join(opts.dir, 'tls', 'server.key') }, client }, systemWorker: { client } },
    },
    services,
    ...singleClusterConfig(address, join(opts.dir, 'config', 'dynamic.yaml')),
  };
  mkdirSync(join(opts.dir, 'config'), { recursive: true });
  const one = (value: unknown) => [{ value, constraints: {} }];
  writeFileSync(join(opts.dir, 'config', 'dynamic.yaml'), JSON.stringify({ 'system.namespaceCacheRefreshInterval': one('500ms'), 'system.forceSearchAttributesCacheRefreshOnRead': one(true), 'limit.maxIDLength': one(255) }));
  writeFileSync(join(opts.dir, 'config', 'development.yaml'), JSON.stringify(config, null, 2));
  const proc: ManagedProcess = startProcess('temporal-tls', binaries.server, ['--root', opts.dir, '--config', 'config', '--env', 'development', 'start'], { cwd: opts.dir, echo: opts.echo });
  let exited: string | null = null;
  proc.child.once('exit', (code, signal) => (exited = `code ${code} signal ${signal}`));
  const stop = () => proc.stop('SIGTERM', 20_000);
  try {
    const tlsOptions = { serverRootCACertificate: readFileSync(tls.caFile), serverNameOverride: tls.serverName };
    const deadline = Date.now() + 120_000;
    let connection: Connection | null = null;
    while (!connection) {
      if (exited) throw new Error(`the TLS Temporal server exited during start-up (${exited})`);
      connection = await Connection.connect({ address, tls: tlsOptions, connectTimeout: 1000 }).catch((err) => {
        if (Date.now() > deadline) throw err;
        return new Promise<null>((r) => setTimeout(() => r(null), 250));
      });
    }
    try {
      // protobufjs takes a plain number where the generated type says Long.
      const retention = { seconds: 24 * 3600 } as unknown as temporal.api.workflowservice.v1.IRegisterNamespaceRequest['workflowExecutionRetentionPeriod'];
      for (const namespace of opts.namespaces) await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: retention });
      for (const namespace of opts.namespaces) await connection.workflowService.describeNamespace({ namespace });
    } finally {
      await connection.close();
    }
    // Every service re-reads namespaces each 500 ms; history and matching refuse one they have not read.
    await new Promise((r) => setTimeout(r, 1200));
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, tls, stop };
}
