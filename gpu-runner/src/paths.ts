/** Where the runner keeps its files: $TRD_WORKER_HOME, else ~/.trd-worker. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function workerHome(env = process.env): string {
  return env.TRD_WORKER_HOME || join(homedir(), '.trd-worker');
}

export function defaultModelsDir(env = process.env): string {
  return env.TRD_MODELS_DIR || join(workerHome(env), 'models');
}
