/** Bundles verify-web for the browser (verify-web/dist/verify.js, not committed). */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const VERIFY_WEB_DIR = fileURLToPath(new URL('.', import.meta.url));

export async function buildVerifyWeb(): Promise<void> {
  await build({
    entryPoints: [`${VERIFY_WEB_DIR}src/main.ts`],
    outfile: `${VERIFY_WEB_DIR}dist/verify.js`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildVerifyWeb();
