/**
 * The real models for test/models: taken into the shared cache once
 * (${TRD_CACHE_DIR:-~/.cache/trd}/models, what scripts/setup.sh fills), checked
 * by hash, reused across runs. Never in git.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pullModel } from '../../gpu-runner/src/model-store.js';

export const SMOLLM2 = 'smollm2-135m-instruct';
export const GEMMA = 'gemma3-270m';

export function realModelsDir(env = process.env): string {
  return env.TRD_REAL_MODELS_DIR || join(env.TRD_CACHE_DIR || join(homedir(), '.cache', 'trd'), 'models');
}

export async function ensureRealModels(keys: string[] = [SMOLLM2, GEMMA]): Promise<string> {
  const modelsDir = realModelsDir();
  for (const key of keys) await pullModel(key, { modelsDir });
  return modelsDir;
}
