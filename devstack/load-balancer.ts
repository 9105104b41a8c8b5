/**
 * HAProxy (Debian's `haproxy` package; scripts/setup.sh --cluster installs it)
 * in front of the platform's replicas, as a load balancer in production would
 * be. One generated config, free ports, one foreground process per balancer.
 *
 * - Gateways: HTTP, balanced per request, each checked on GET /healthz.
 * - Runner endpoints: TCP passthrough (`tcp`, the default). The endpoint
 *   terminates TLS itself and runners pin its CA; passthrough keeps TLS end to
 *   end, so the balancer holds no key. A runner keeps one HTTP/2 connection,
 *   so balancing is per connection (per runner); when a replica dies its
 *   runners reconnect and land on a live one. `h2` terminates TLS at HAProxy
 *   (with the endpoint's own certificate) and re-encrypts to the replicas,
 *   balancing every gRPC call: only sound once any replica accepts any other
 *   replica's task tokens.
 * - Temporal frontends: plaintext HTTP/2 (`h2`, per gRPC call, the default) or
 *   `tcp` (per connection). Per call, a dead node costs only the calls in
 *   flight on it; the next ones go to the survivor on the same connection.
 */
import { createConnection } from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envInt } from '../platform/env.js';
import { freePort } from './ports.js';
import { startProcess, type ManagedProcess } from './processes.js';

export interface LoadBalancerSettings {
  /** Between health checks of each replica. */
  checkIntervalMs: number;
  /** Failed checks before a replica is taken out. */
  fall: number;
  /** A check's answer may take this long: a busy replica is slow, not dead (a dead one refuses at once). */
  checkTimeoutMs: number;
  /** An idle tunnel (runners, Temporal clients), or a held request to a service that names no `holdMs`, may last this long. */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Added to a service's `holdMs`: the balancer waits that much longer than the replica may stay silent. */
  holdMarginMs: number;
}

export function loadBalancerSettings(env: Record<string, string | undefined> = process.env): LoadBalancerSettings {
  return {
    checkIntervalMs: envInt(env, 'TRD_LB_CHECK_INTERVAL_MS'),
    fall: envInt(env, 'TRD_LB_CHECK_FALL'),
    checkTimeoutMs: envInt(env, 'TRD_LB_CHECK_TIMEOUT_MS'),
    idleTimeoutMs: envInt(env, 'TRD_LB_IDLE_TIMEOUT_MS'),
    connectTimeoutMs: envInt(env, 'TRD_LB_CONNECT_TIMEOUT_MS'),
    holdMarginMs: envInt(env, 'TRD_LB_HOLD_MARGIN_MS'),
  };
}

export type Backend = { name: string; address: string };

export interface BalancedService {
  name: string;
  kind: 'http' | 'tcp' | 'h2c' | 'h2-tls';
  /** The port the balancer listens on (127.0.0.1); a free one when omitted. */
  port?: number;
  backends: Backend[];
  /** `http`: the health check path. */
  healthPath?: string;
  /**
   * `http`: the longest a replica may hold a response with nothing sent (the gateway's
   * longestSilenceMs). The balancer's client and server timeouts for this service are set
   * above it, so it never cuts a response the replica still means to send.
   */
  holdMs?: number;
  /** `h2-tls`: the certificate and key HAProxy presents (one PEM file), and the CA it checks the replicas with. */
  tls?: { pemFile: string; caFile: string; serverName: string };
}

export interface LoadBalancer {
  /** Where each service listens, by name: `127.0.0.1:port`. */
  addresses: Record<string, string>;
  configFile: string;
  /** Each backend server's state (`UP`, `DOWN`, `MAINT`, `DRAIN`…), by `service/name`. */
  serverStates(): Promise<Record<string, string>>;
  /** Stop sending new requests to a backend (`drain`), or take it back (`ready`): a rolling restart's two steps. */
  setServerState(service: string, backend: string, state: 'ready' | 'drain' | 'maint'): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const ms = (n: number) => `${n}ms`;

/** The generated haproxy.cfg. Exported for the docs and a test. */
export function haproxyConfig(services: Array<BalancedService & { port: number }>, settings: LoadBalancerSettings, statsSocket: string): string {
  const lines = [
    'global',
    // No maxconn: HAProxy derives it from the open-file limit (a fixed one above the limit refuses to start).
    `  stats socket ${statsSocket} mode 600 level admin`,
    '',
    'defaults',
    `  timeout connect ${ms(settings.connectTimeoutMs)}`,
    `  timeout client ${ms(settings.idleTimeoutMs)}`,
    `  timeout server ${ms(settings.idleTimeoutMs)}`,
    `  timeout tunnel ${ms(settings.idleTimeoutMs)}`,
    `  timeout http-request ${ms(Math.min(settings.idleTimeoutMs, 30_000))}`,
    `  timeout check ${ms(settings.checkTimeoutMs)}`,
    // A connection refused by a dead replica is retried on another before the client sees it.
    '  retries 2',
    '  option redispatch',
    '',
  ];
  for (const s of services) {
    const mode = s.kind === 'tcp' ? 'tcp' : 'http';
    lines.push(`frontend ${s.name}`, `  mode ${mode}`);
    if (s.kind === 'h2-tls') lines.push(`  bind 127.0.0.1:${s.port} ssl crt ${s.tls!.pemFile} alpn h2`);
    else if (s.kind === 'h2c') lines.push(`  bind 127.0.0.1:${s.port} proto h2`);
    else lines.push(`  bind 127.0.0.1:${s.port}`);
    if (s.kind === 'http') lines.push('  option forwardfor', '  http-request set-header X-Forwarded-Proto http');
    // Both sides are idle while a replica holds a response: each timeout must outlast the hold.
    const held = s.kind === 'http' && s.holdMs !== undefined ? Math.max(settings.idleTimeoutMs, s.holdMs + settings.holdMarginMs) : null;
    if (held !== null) lines.push(`  timeout client ${ms(held)}`);
    lines.push(`  default_backend ${s.name}_replicas`, '');
    lines.push(`backend ${s.name}_replicas`, `  mode ${mode}`);
    if (held !== null) lines.push(`  timeout server ${ms(held)}`);
    // Gateways per request; long-lived connections (runners, Temporal clients) to the least loaded replica.
    lines.push(`  balance ${s.kind === 'http' || s.kind === 'h2c' ? 'roundrobin' : 'leastconn'}`);
    if (s.kind === 'http') {
      lines.push(`  option httpchk GET ${s.healthPath ?? '/healthz'}`, '  http-check expect status 200');
      // A request that never reached a replica (refused, reset before any answer) is safe to send to another.
      lines.push('  retry-on conn-failure empty-response');
    }
    // A dead replica's connections die with it. Tunnels (runners) on one that is only taken out (hung, or
    // put in maintenance) end too, so their clients reconnect to a live one; HTTP requests in flight on it
    // are left to finish: ending them would cut customers' held requests on a replica merely slow to answer.
    const shutdown = s.kind === 'tcp' || s.kind === 'h2-tls' ? ' on-marked-down shutdown-sessions' : '';
    lines.push(`  default-server inter ${ms(settings.checkIntervalMs)} fastinter ${ms(Math.max(100, settings.checkIntervalMs / 2))} fall ${settings.fall} rise 1${shutdown}`);
    for (const b of s.backends) {
      let server = `  server ${b.name} ${b.address} check`;
      if (s.kind === 'h2c') server += ' proto h2';
      if (s.kind === 'h2-tls') server += ` ssl verify required ca-file ${s.tls!.caFile} sni str(${s.tls!.serverName}) verifyhost ${s.tls!.serverName} alpn h2 check-ssl`;
      lines.push(server);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export async function startLoadBalancer(opts: {
  dir: string;
  services: BalancedService[];
  settings?: Partial<LoadBalancerSettings>;
  haproxy?: string;
  echo?: (line: string) => void;
}): Promise<LoadBalancer> {
  const settings = { ...loadBalancerSettings({}), ...opts.settings };
  mkdirSync(opts.dir, { recursive: true });
  const services = [];
  for (const s of opts.services) services.push({ ...s, port: s.port ?? (await freePort()) });
  const statsSocket = join(opts.dir, 'haproxy.sock');
  const configFile = join(opts.dir, 'haproxy.cfg');
  writeFileSync(configFile, haproxyConfig(services, settings, statsSocket));
  // Debian puts it in /usr/sbin, which a non-root PATH may lack.
  const haproxy = opts.haproxy ?? process.env.TRD_HAPROXY ?? (existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy');
  // -db: stay in the foreground (no daemon), so the process is ours to stop or kill.
  const tail: string[] = [];
  const proc: ManagedProcess = startProcess('haproxy', haproxy, ['-db', '-f', configFile], {
    echo: (line) => {
      tail.push(line);
      if (tail.length > 10) tail.shift();
      opts.echo?.(line);
    },
  });
  let exited: string | null = null;
  proc.child.once('exit', (code, signal) => (exited = `haproxy exited (code ${code} signal ${signal}): ${tail.join(' | ')}`));
  proc.child.once('error', (err) => (exited = `${err.message} (is Debian's haproxy installed? bash scripts/setup.sh --cluster)`));
  const addresses = Object.fromEntries(services.map((s) => [s.name, `127.0.0.1:${s.port}`]));
  try {
    for (const s of services) await waitForPort(s.port, 10_000, () => exited);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  const admin = (command: string) => adminCommand(statsSocket, command);
  return {
    addresses,
    configFile,
    async serverStates() {
      const csv = await admin('show stat');
      const rows = csv.split('\n').filter((l) => l && !l.startsWith('#'));
      const out: Record<string, string> = {};
      for (const row of rows) {
        const [pxname, svname, ...rest] = row.split(',');
        if (svname === 'FRONTEND' || svname === 'BACKEND') continue;
        out[`${pxname.replace(/_replicas$/, '')}/${svname}`] = rest[15].split(' ')[0];
      }
      return out;
    },
    async setServerState(service, backend, state) {
      const answer = await admin(`set server ${service}_replicas/${backend} state ${state}`);
      if (answer.trim()) throw new Error(`haproxy: ${answer.trim()}`);
    },
    stop: (signal = 'SIGTERM') => proc.stop(signal, 5000),
  };
}

/** Waits until HAProxy's (or any) listener accepts on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number, exited?: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited?.();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = createConnection({ path: socketPath }, () => socket.end(`${command}\n`));
    socket.on('data', (d) => (out += d.toString()));
    socket.once('end', () => resolve(out));
    socket.once('error', reject);
  });
}

/** Waits until a backend server has the given state (a health check marked it). */
export async function waitForServerState(lb: LoadBalancer, key: string, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = (await lb.serverStates())[key];
    if (last === state) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`haproxy: ${key} is ${last}, not ${state}, after ${timeoutMs} ms`);
}
