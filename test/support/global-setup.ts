/**
 * Once per test run: real PostgreSQL (migrated template database), a real
 * Temporal dev server with a namespace per test file, the workflow bundle,
 * the tiny model, the verify-web bundle and the compiled runner (built again
 * here when a source changed, so no test starts a stale one). Test files find
 * them through TRD_TEST_SERVICES.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEphemeralServices } from '../../devstack/services.js';
import { buildPackages } from '../../scripts/build.js';
import { buildWebPages } from '../../scripts/build-web.js';
import { namespaceForTestFile } from './names.js';

const TEST_ROOT = fileURLToPath(new URL('..', import.meta.url));

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const entries = await readdir(TEST_ROOT, { withFileTypes: true, recursive: true });
  const namespaces = entries.filter((e) => e.isFile() && e.name.endsWith('.test.ts')).map((e) => namespaceForTestFile(join(e.parentPath, e.name)));
  const services = await startEphemeralServices({ namespaces, extra: [buildWebPages(), buildPackages()] });
  (globalThis as Record<string, unknown>).__trdServices = services;
  const { dir, stop, ...endpoints } = services;
  process.env.TRD_TEST_SERVICES = JSON.stringify(endpoints);
  process.env.CHECKPOINT_DISABLE = '1';
  console.log(`\nglobal setup: PostgreSQL, Temporal ${services.temporalAddress} (${namespaces.length} namespaces) ready in ${Date.now() - started} ms`);
}
