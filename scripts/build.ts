/**
 * `npm run build`: the project's build step (output git-ignored).
 *   packages  @trd/protocol and trd-worker compiled by tsc (JavaScript + declarations): protocol/dist is
 *             the publishable protocol package, gpu-runner/dist the runner's code (its tests build,
 *             gpu-runner/testing, included; scripts/pack-runner.sh leaves that out of the tarball)
 *   web       the browser pages' bundles (scripts/build-web.ts)
 *   platform  the platform's processes bundled by esbuild into dist/ (the Docker image runs them with
 *             plain node) and the workflow bundle the orchestrator loads (TRD_WORKFLOW_BUNDLE)
 * `node --import tsx scripts/build.ts [packages] [web] [platform]`: only those; none: all three.
 */
import { build, type Plugin } from 'esbuild';
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildWebPages } from './build-web.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * tsc -b is incremental: with nothing changed it only compares its inputs (about a second), so every
 * jest run calls this first and a runner test never starts a stale build.
 */
export async function buildPackages(): Promise<void> {
  try {
    await promisify(execFile)(process.execPath, [TSC, '-b', join(ROOT, 'gpu-runner/tsconfig.build.json')], { cwd: ROOT });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`tsc -b gpu-runner/tsconfig.build.json failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
  await writeProtocolManifest();
  // The compiled runner finds @trd/protocol where its package carries it (node_modules next to its code), as
  // it does installed from the tarball: the workspace's own link points at the TypeScript sources.
  // Copied only when it changed: a test run next to this one may be starting runners from it.
  const built = join(ROOT, 'protocol/dist');
  const bundled = join(ROOT, 'gpu-runner/dist/node_modules/@trd/protocol');
  if (await sameFiles(built, bundled, ['.tsbuildinfo', 'package.json'])) return;
  await rm(bundled, { recursive: true, force: true });
  await cp(built, bundled, { recursive: true });
}

async function sameFiles(a: string, b: string, names: string[]): Promise<boolean> {
  for (const name of names) {
    const [x, y] = await Promise.all([readFile(join(a, name), 'utf8'), readFile(join(b, name), 'utf8').catch(() => null)]);
    if (x !== y) return false;
  }
  return true;
}

/** protocol/dist/package.json: the workspace's manifest with its entry points moved from the sources to the compiled files. */
async function writeProtocolManifest(): Promise<void> {
  const source = JSON.parse(await readFile(join(ROOT, 'protocol/package.json'), 'utf8'));
  const manifest = {
    ...source,
    exports: {
      '.': { types: './src/index.d.ts', default: './src/index.js' },
      './*': { types: './src/*.d.ts', default: './src/*.js' },
    },
  };
  const file = join(ROOT, 'protocol/dist/package.json');
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  // Rewritten only when it changed, for the same reason as the copy above.
  if ((await readFile(file, 'utf8').catch(() => null)) !== text) await writeFile(file, text);
}

/** The platform's entry points, each one file in dist/ (one level down, as the sources are: their `../` paths still hold). */
export const PLATFORM_ENTRIES: Record<string, string> = {
  gateway: 'gateway/main.ts',
  orchestrator: 'orchestrator/main.ts',
  setup: 'orchestrator/setup.ts',
  'runner-endpoint': 'runner-proxy/main.ts',
};

/** Our code and @trd/protocol go into the bundle; every other package is loaded from node_modules at run time. */
const packagesExternal: Plugin = {
  name: 'packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path === '@trd/protocol' || args.path.startsWith('@trd/protocol/') ? undefined : { path: args.path, external: true }));
  },
};

export async function buildPlatform(outDir = join(ROOT, 'dist')): Promise<void> {
  await mkdir(outDir, { recursive: true });
  // Loaded here, not at the top: the packages step (every jest run) needs neither.
  const { DefaultLogger, bundleWorkflowCode } = await import('@temporalio/worker');
  const { WORKFLOWS_PATH } = await import('../orchestrator/worker.js');
  await Promise.all([
    build({
      entryPoints: Object.fromEntries(Object.entries(PLATFORM_ENTRIES).map(([name, entry]) => [name, join(ROOT, entry)])),
      outdir: outDir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      plugins: [packagesExternal],
      logLevel: 'warning',
    }),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }).then((b) => writeFile(join(outDir, 'workflow-bundle.js'), b.code)),
  ]);
}

const STEPS = { packages: buildPackages, web: buildWebPages, platform: () => buildPlatform() } as const;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((s) => !(s in STEPS));
  if (unknown.length) {
    console.error(`build: unknown step ${unknown.join(', ')} (steps: ${Object.keys(STEPS).join(', ')})`);
    process.exit(2);
  }
  for (const step of (asked.length ? asked : Object.keys(STEPS)) as (keyof typeof STEPS)[]) {
    const started = Date.now();
    await STEPS[step]();
    console.error(`build: ${step} in ${Date.now() - started} ms`);
  }
}
