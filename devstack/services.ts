/**
 * Throwaway services for tests and benchmarks: PostgreSQL with a migrated
 * template database, a Temporal dev server with the namespaces asked for,
 * the workflow bundle and the generated tiny model, all under one temp folder.
 */
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findModel, generatedSeed } from '@trd/protocol';
import { writeTinyModel } from '../gpu-runner/src/tiny-model.js';
import { WORKFLOWS_PATH } from '../orchestrator/worker.js';
import { migrateDatabase } from './migrate.js';
import { freePort } from './ports.js';
import { startLocalPostgres } from './postgres.js';
import { findTemporalCli, startTemporalDevServer } from './temporal.js';

export const TEMPLATE_DB = 'trd_template';

/** What a platform instance needs to know about the services; plain strings, so it crosses process.env. */
export interface ServiceEndpoints {
  pgAdminUrl: string;
  /** Append a database name. */
  pgUrlPrefix: string;
  temporalAddress: string;
  workflowBundlePath: string;
  modelsDir: string;
}

export interface EphemeralServices extends ServiceEndpoints {
  dir: string;
  stop(): Promise<void>;
}

export async function startEphemeralServices(opts: { namespaces: string[]; extra?: Promise<unknown>[] }): Promise<EphemeralServices> {
  const dir = await mkdtemp(join(tmpdir(), 'trd-'));
  // PostgreSQL runs as the `postgres` user when we are root; it must reach its data folder.
  await chmod(dir, 0o755);
  // Without a local CLI (scripts/setup.sh builds one with Go), the Temporal SDK downloads it.
  const cli = findTemporalCli();
  const [pgPort, temporalPort] = [await freePort(), await freePort()];
  const [postgres, temporal] = await Promise.all([
    startLocalPostgres({ dataDir: join(dir, 'postgres'), port: pgPort, persistent: false }),
    startTemporalDevServer({ cli, port: temporalPort, namespaces: opts.namespaces }),
  ]);
  const stop = async () => {
    await Promise.allSettled([temporal.stop(), postgres.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await postgres.createDatabase(TEMPLATE_DB);
    const [, files] = await Promise.all([migrateDatabase(postgres.urlFor(TEMPLATE_DB)), writeRunFiles(dir), ...(opts.extra ?? [])]);
    const { workflowBundlePath, modelsDir } = files;
    return {
      dir,
      pgAdminUrl: postgres.urlFor('postgres'),
      pgUrlPrefix: postgres.urlFor(''),
      temporalAddress: temporal.address,
      workflowBundlePath,
      modelsDir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * What the platform's processes read from files at start, written into `dir`: the workflow bundle
 * the orchestrators load (one build for every replica) and the generated tiny model runners serve.
 */
export async function writeRunFiles(dir: string): Promise<Pick<ServiceEndpoints, 'workflowBundlePath' | 'modelsDir'>> {
  const workflowBundlePath = join(dir, 'workflow-bundle.js');
  const modelsDir = join(dir, 'models');
  const tiny = findModel('trd-tiny')!;
  await Promise.all([
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }).then((b) => writeFile(workflowBundlePath, b.code)),
    writeTinyModel(join(modelsDir, 'trd-tiny.gguf'), generatedSeed(tiny) ?? 42),
  ]);
  return { workflowBundlePath, modelsDir };
}
