/**
 * Bundles the browser pages (not committed): the receipt verifier
 * (verify-web/dist/verify.js) and the owner dashboard
 * (dashboard-web/dist/dashboard.js). Both use @trd/protocol's own code.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// The verifier is a classic script (IIFE): Chromium refuses module scripts on pages opened from a file.
const PAGES = [
  { entry: 'verify-web/src/main.ts', out: 'verify-web/dist/verify.js', format: 'iife' as const },
  { entry: 'dashboard-web/src/main.ts', out: 'dashboard-web/dist/dashboard.js', format: 'esm' as const },
  { entry: 'dashboard-web/src/device.ts', out: 'dashboard-web/dist/device.js', format: 'esm' as const },
  { entry: 'dashboard-web/src/peers.ts', out: 'dashboard-web/dist/peers.js', format: 'esm' as const },
  { entry: 'marketplace-web/src/main.ts', out: 'marketplace-web/dist/marketplace.js', format: 'esm' as const },
];

const COMMON = { bundle: true, platform: 'browser', target: 'es2022', minify: true, logLevel: 'warning' } as const;

/** The verifier's Web Worker, as source text the page starts from a Blob URL (a file:// page cannot load worker files). */
async function verifyWorkerSource(): Promise<string> {
  const out = await build({ ...COMMON, entryPoints: [`${ROOT}verify-web/src/worker.ts`], format: 'iife', write: false });
  return out.outputFiles[0].text;
}

export async function buildWebPages(): Promise<void> {
  const define = { VERIFY_WORKER_SOURCE: JSON.stringify(await verifyWorkerSource()) };
  await Promise.all(
    PAGES.map((p) =>
      build({
        define,
        entryPoints: [`${ROOT}${p.entry}`],
        outfile: `${ROOT}${p.out}`,
        bundle: true,
        format: p.format,
        platform: 'browser',
        target: 'es2022',
        minify: true,
        sourcemap: true,
        logLevel: 'warning',
      }),
    ),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWebPages();
