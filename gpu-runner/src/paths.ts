/** Where the runner keeps its files: $TRD_WORKER_HOME, else ~/.trd-worker. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { optionalSetting, pathSetting } from '@trd/protocol/settings';

export function workerHome(env = process.env): string {
  return runnerPath(env, 'TRD_WORKER_HOME');
}

export function defaultModelsDir(env = process.env): string {
  return optionalSetting(env, 'TRD_MODELS_DIR', { reader: 'runner' }) ?? join(workerHome(env), 'models');
}

/** A declared folder setting of the runner's, its default (`~/…`) under this user's home. */
export function runnerPath(env: Record<string, string | undefined>, name: string): string {
  return pathSetting(env, name, { home: homedir() }, { reader: 'runner' });
}
