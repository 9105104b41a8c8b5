#!/usr/bin/env node
// Runs the compiled runner (dist/, built by `npm run build` in the repository; shipped in the package).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('trd-worker: not built: run `npm run build` in the repository (a published package carries dist/)');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv);
