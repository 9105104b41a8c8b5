/**
 * Once per test run: a real PostgreSQL with a migrated template database, a
 * real Temporal dev server with a namespace per test file, the workflow
 * bundle, and the generated tiny model. Test files read where they are from
 * TRD_TEST_* variables.
 */
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { chmod, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateDatabase } from '../../devstack/migrate.js';
import { freePort } from '../../devstack/ports.js';
import { startLocalPostgres } from '../../devstack/postgres.js';
import { findTemporalCli, startTemporalDevServer } from '../../devstack/temporal.js';
import { writeTinyModel } from '../../gpu-runner/src/tiny-model.js';
import { WORKFLOWS_PATH } from '../../orchestrator/worker.js';
import { buildVerifyWeb } from '../../verify-web/build.js';
import { findModel } from '@trd/protocol';
import { namespaceForTestFile } from './names.js';

const TEST_ROOT = fileURLToPath(new URL('..', import.meta.url));

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.test.ts')).map((e) => join(e.parentPath, e.name));
}

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'trd-test-'));
  // PostgreSQL runs as the `postgres` user when we are root; it must reach its data folder.
  await chmod(dir, 0o755);

  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI: run scripts/setup.sh, or set TEMPORAL_CLI');
  const [pgPort, temporalPort] = [await freePort(), await freePort()];
  const namespaces = (await testFiles(TEST_ROOT)).map(namespaceForTestFile);

  const [postgres, temporal] = await Promise.all([
    startLocalPostgres({ dataDir: join(dir, 'postgres'), port: pgPort, persistent: false }),
    startTemporalDevServer({ cli, port: temporalPort, namespaces }),
  ]);
  (globalThis as Record<string, unknown>).__trdServices = { postgres, temporal };

  await postgres.createDatabase('trd_template');
  const [, bundle] = await Promise.all([
    migrateDatabase(postgres.urlFor('trd_template')),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }),
    buildVerifyWeb(),
  ]);
  const bundlePath = join(dir, 'workflow-bundle.js');
  await writeFile(bundlePath, bundle.code);

  const tiny = findModel('trd-tiny')!;
  const modelsDir = join(dir, 'models');
  await writeTinyModel(join(modelsDir, 'trd-tiny.gguf'), tiny.source.kind === 'generated' ? tiny.source.seed : 42);

  Object.assign(process.env, {
    TRD_TEST_DIR: dir,
    TRD_TEST_PG_ADMIN_URL: postgres.urlFor('postgres'),
    TRD_TEST_PG_URL_PREFIX: postgres.urlFor(''),
    TRD_TEST_TEMPORAL_ADDRESS: temporal.address,
    TRD_TEST_WORKFLOW_BUNDLE: bundlePath,
    TRD_TEST_MODELS_DIR: modelsDir,
    CHECKPOINT_DISABLE: '1',
  });
  console.log(`\nglobal setup: PostgreSQL :${pgPort}, Temporal ${temporal.address} (${namespaces.length} namespaces), ready in ${Date.now() - started} ms`);
}
