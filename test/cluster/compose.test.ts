/**
 * docker-compose.yml as a deployment, checked without a Docker engine:
 * `docker-compose config` (Debian's docker-compose 1.29) accepts it, and every
 * image, port, file and variable it names exists in this repository or in the
 * Temporal server it builds. Fast (~2 s): no services start.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPORAL_SERVER_VERSION, temporalServerSource } from '../../devstack/temporal-cluster.js';
import { gatewaySettings, longestSilenceMs } from '../../gateway/settings.js';
import { PLATFORM_ENTRIES } from '../../scripts/build.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Entry points another branch adds (the one-shot setup command); each must exist once it has landed. */
/** Variables our image's dependencies read, with where. */
const THIRD_PARTY: Record<string, () => boolean> = {
  // Prisma's switch for its update check and telemetry.
  CHECKPOINT_DISABLE: () => readFileSync(join(ROOT, 'node_modules', 'prisma', 'build', 'index.js'), 'utf8').includes('CHECKPOINT_DISABLE'),
};

type Service = {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<{ published?: number | string; target: number; host_ip?: string } | string>;
  secrets?: Array<{ source: string; target?: string }>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  restart?: string;
  container_name?: string;
  volumes?: Array<{ source?: string; target: string; type: string } | string>;
};
let compose: { services: Record<string, Service>; secrets: Record<string, { file: string }> };
let sources: string;
let temporalTemplate: string;
const haproxyCfg = readFileSync(join(ROOT, 'deploy', 'haproxy.cfg'), 'utf8');

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (['node_modules', 'test', 'generated', '.git', '.trd', 'dist'].includes(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) tsFiles(path, out);
    else if (/\.(ts|js)$/.test(name)) out.push(path);
  }
  return out;
}

beforeAll(() => {
  // docker-compose prints the resolved file as YAML; its own Python YAML (a dependency of the package) reads it.
  const yaml = execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COMPOSE_INTERACTIVE_NO_CLI: '1' } });
  const json = execFileSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: yaml, encoding: 'utf8' });
  compose = JSON.parse(json);
  sources = tsFiles(ROOT).map((f) => readFileSync(f, 'utf8')).join('\n');
  // The template the Temporal image's server reads its settings from (deploy/temporal.Dockerfile copies it).
  temporalTemplate = readFileSync(join(temporalServerSource(), 'config', 'docker.yaml'), 'utf8');
});

const ours = (s: Service) => s.image === 'trd-compute:local';
const temporalImage = (s: Service) => s.image?.startsWith('trd-temporal:') ?? false;

describe('docker-compose.yml', () => {
  test('every image is built here or pinned, and the Temporal image is the server version the local cluster runs', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect({ name, image: s.image ?? null, build: s.build ?? null }).not.toEqual({ name, image: null, build: null });
      if (s.build) expect(existsSync(join(s.build.context, s.build.dockerfile ?? 'Dockerfile'))).toBe(true);
      if (s.image && !s.build && !['trd-compute:local'].includes(s.image) && !temporalImage(s)) expect(s.image).toMatch(/^[a-z0-9/_.-]+:\d+(\.\d+)*$/);
    }
    const temporalImages = new Set(Object.values(compose.services).filter(temporalImage).map((s) => s.image));
    expect([...temporalImages]).toEqual([`trd-temporal:${TEMPORAL_SERVER_VERSION}`]);
    const dockerfile = readFileSync(join(ROOT, 'deploy', 'temporal.Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`);
    expect(dockerfile).toContain(`go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`);
    expect(readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8')).toContain(`temporal_server_version=${TEMPORAL_SERVER_VERSION}`);
    // The balancer is the HAProxy release the local cluster runs (Debian's).
    const local = execFileSync(existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy', ['-v'], { encoding: 'utf8' }).match(/version (\d+\.\d+)/)![1];
    expect(compose.services.haproxy.image).toBe(`haproxy:${local}`);
  });

  test('every file a command runs exists', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const arg of s.command ?? []) {
        if (!/^[\w./-]+\.(ts|js|sh)$/.test(arg)) continue;
        // The Temporal image has its scripts on PATH, copied from deploy/.
        const path = temporalImage(s) && !arg.includes('/') ? join('deploy', arg) : arg;
        // dist/ is the image's build output (npm run build), absent from a fresh clone: an entry the build makes, from a source that exists.
        const built = /^dist\/([\w-]+)\.js$/.exec(path)?.[1];
        const source = built === undefined ? path : (PLATFORM_ENTRIES[built] ?? `(no build entry for ${path})`);
        expect({ name, path, exists: existsSync(join(ROOT, source)) }).toEqual({ name, path, exists: true });
      }
    }
    const cmd = readFileSync(join(ROOT, 'deploy', 'temporal.Dockerfile'), 'utf8');
    for (const script of cmd.match(/deploy\/[\w.-]+/g)!) expect(existsSync(join(ROOT, script))).toBe(true);
    expect(compose.services['volumes' as never]).toBeUndefined();
    for (const s of Object.values(compose.services)) {
      for (const v of s.volumes ?? []) if (typeof v !== 'string' && v.type === 'bind') expect(existsSync(v.source!)).toBe(true);
    }
  });

  test('every variable a process is given is one its code reads', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const secretVars = (s.secrets ?? []).map((x) => (x.target ?? x.source)).filter((n) => /^[a-z0-9_]+$/.test(n)).map((n) => n.toUpperCase());
      const vars = [...Object.keys(s.environment ?? {}), ...secretVars];
      for (const v of vars) {
        let read: boolean;
        if (ours(s)) read = sources.includes(`'${v}'`) || sources.includes(`.${v}`) || sources.includes(`"${v}"`) || (THIRD_PARTY[v]?.() ?? false);
        else if (temporalImage(s) && s.command?.includes('temporal-schema.sh')) read = new RegExp(`\\$\\{?${v}\\b`).test(readFileSync(join(ROOT, 'deploy', 'temporal-schema.sh'), 'utf8'));
        else if (temporalImage(s)) read = temporalTemplate.includes(`env "${v}"`);
        else continue; // third-party images (postgres, the UI): their own documented variables
        expect({ service: name, variable: v, read }).toEqual({ service: name, variable: v, read: true });
      }
      // A /run/secrets path a process is pointed at is a secret it is given.
      const given = new Set((s.secrets ?? []).map((x) => x.target ?? x.source));
      for (const value of [...Object.values(s.environment ?? {}), ...(s.command ?? [])]) {
        for (const m of String(value).matchAll(/\/run\/secrets\/([\w.-]+)/g)) expect({ name, secret: m[1], given: given.has(m[1]) }).toEqual({ name, secret: m[1], given: true });
      }
    }
    for (const secret of Object.keys(compose.secrets)) {
      expect(Object.values(compose.services).some((s) => (s.secrets ?? []).some((x) => x.source === secret))).toBe(true);
    }
  });

  test('ports: only the balancer and the UI (on loopback) are published, never Temporal; every address names a port something listens on', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => (typeof p === 'string' ? { name, p: p.replace(/\/tcp$/, '') } : { name, p: `${p.host_ip ? `${p.host_ip}:` : ''}${p.published}:${p.target}` })),
    );
    expect(published.sort((a, b) => a.p.localeCompare(b.p))).toEqual([
      { name: 'temporal-ui', p: '127.0.0.1:8233:8080' },
      { name: 'haproxy', p: '7443:7443' },
      { name: 'haproxy', p: '8080:8080' },
    ].sort((a, b) => a.p.localeCompare(b.p)));
    const binds = [...haproxyCfg.matchAll(/^\s*bind :(\d+)/gm)].map((m) => Number(m[1]));
    const servers = Object.fromEntries([...haproxyCfg.matchAll(/server-template \w+ \d+ ([\w-]+):(\d+)/g)].map((m) => [m[1], Number(m[2])]));
    expect(binds.sort()).toEqual([7233, 7443, 8080]);
    expect(servers.gateway).toBe(Number(compose.services.gateway.environment!.TRD_GATEWAY_PORT));
    expect(servers['runner-endpoint']).toBe(Number(compose.services['runner-endpoint'].environment!.TRD_RUNNER_ENDPOINT_PORT));
    // Temporal's frontend port in its template's default.
    expect(temporalTemplate).toContain(`default "${servers.temporal}" (env "FRONTEND_GRPC_PORT")`);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const key of ['TEMPORAL_ADDRESS', 'TRD_TEMPORAL_ADDRESS']) {
        const value = s.environment?.[key];
        if (value) expect({ name, key, value }).toEqual({ name, key, value: `haproxy:${value.split(':')[1]}` });
        if (value) expect(binds).toContain(Number(value.split(':')[1]));
      }
      for (const arg of s.command ?? []) {
        const m = arg.match(/^http:\/\/haproxy:(\d+)$/);
        if (m) expect(binds).toContain(Number(m[1]));
      }
    }
    // The gateway's health check is its /healthz route, on its port.
    expect(compose.services.gateway.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${servers.gateway}/healthz`);
    expect(haproxyCfg).toContain('option httpchk GET /healthz');
    expect(sources).toContain("app.get('/healthz'");
  });

  test("the balancer's gateway timeouts outlast the longest silent hold of the gateways' settings", () => {
    const settings = gatewaySettings(compose.services.gateway.environment ?? {});
    const seconds = (section: string, key: string) => Number(haproxyCfg.match(new RegExp(`${section}\\n(?:  .*\\n)*?  timeout ${key} (\\d+)s`))?.[1]);
    for (const [section, key] of [['frontend gateway', 'client'], ['backend gateway_replicas', 'server']]) {
      expect({ section, key, above: seconds(section, key) * 1000 > longestSilenceMs(settings) }).toEqual({ section, key, above: true });
    }
  });

  test('replicas, health checks and start order', () => {
    for (const name of ['temporal', 'gateway', 'orchestrator', 'runner-endpoint']) {
      const s = compose.services[name];
      expect({ name, replicas: (s.deploy?.replicas ?? 1) >= 2 }).toEqual({ name, replicas: true });
      expect({ name, pinned: s.container_name ?? (s.ports?.length ? 'ports' : null) }).toEqual({ name, pinned: null });
    }
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(compose.services[dep]).toBeDefined();
        if (condition === 'service_healthy') expect({ name, dep, healthcheck: Boolean(compose.services[dep].healthcheck) }).toEqual({ name, dep, healthcheck: true });
        if (condition === 'service_completed_successfully') expect({ name, dep, oneShot: ['no', undefined].includes(compose.services[dep].restart) }).toEqual({ name, dep, oneShot: true });
      }
    }
    // The schema job before the server; the setup job (migrations with the check, schedules, search attributes) before the platform.
    expect(compose.services.temporal.depends_on!['temporal-schema'].condition).toBe('service_completed_successfully');
    for (const name of ['gateway', 'orchestrator', 'runner-endpoint']) expect(compose.services[name].depends_on!.setup.condition).toBe('service_completed_successfully');
    expect(compose.services.runner.depends_on!.gateway.condition).toBe('service_healthy');
  });
});
