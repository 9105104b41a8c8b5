/**
 * The models folder: what is there (list), taking a model in (pull: a catalog
 * name, an hf: URI or URL, or a local file), and removing one. Files are named
 * `<catalog key>.gguf`; every file taken in is checked as GGUF and hashed, and
 * a catalog model with a pinned hash must match it.
 */
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createModelDownloader } from 'node-llama-cpp';
import { MODEL_CATALOG, assertModelKey, findModel } from '@trd/protocol';
import { checkLoadable, readGgufHeader } from './gguf/reader.js';
import { modelFilePath, sha256File } from './model-files.js';
import { writeTinyModel } from './tiny-model.js';

export interface StoredModel {
  key: string;
  path: string;
  sizeBytes: number;
  quantization: string | null;
  inCatalog: boolean;
  minVramMiB: number | null;
}

export async function listModels(modelsDir: string): Promise<StoredModel[]> {
  if (!existsSync(modelsDir)) return [];
  const out: StoredModel[] = [];
  for (const name of (await readdir(modelsDir)).sort()) {
    if (!name.endsWith('.gguf')) continue;
    const key = name.slice(0, -'.gguf'.length);
    const path = join(modelsDir, name);
    const catalog = findModel(key);
    out.push({ key, path, sizeBytes: (await stat(path)).size, quantization: catalog?.quantization ?? null, inCatalog: !!catalog, minVramMiB: catalog?.minVramMiB ?? null });
  }
  return out;
}

export async function removeModel(modelsDir: string, key: string): Promise<string> {
  assertModelKey(key);
  const path = modelFilePath(modelsDir, key);
  if (!existsSync(path)) throw new Error(`no model ${key} in ${modelsDir} (trd-worker models list shows what is there)`);
  await rm(path);
  return path;
}

export interface PullProgress {
  totalSize: number;
  downloadedSize: number;
  averageSpeed: number;
  estimatedTimeLeft: number;
}

/**
 * Takes a model into the folder under its catalog key. Downloads resume from
 * a partial file (node-llama-cpp's downloader) and land under a temporary
 * name, so a cut download never looks like a model.
 */
export async function pullModel(
  source: string,
  opts: { modelsDir: string; key?: string; onProgress?: (p: PullProgress) => void; signal?: AbortSignal },
): Promise<{ key: string; path: string; sha256: string; sizeBytes: number }> {
  await mkdir(opts.modelsDir, { recursive: true });
  const catalog = findModel(opts.key ?? source);
  const key = opts.key ?? catalog?.key;
  if (!key) {
    throw new Error(`"${source}" is not a catalog model (${MODEL_CATALOG.map((m) => m.key).join(', ')}); for a file, URL or hf: URI name its key with --key`);
  }
  assertModelKey(key);
  const target = modelFilePath(opts.modelsDir, key);
  const partial = `${target}.part`;
  const isLocal = !/^(https?:|hf:)/.test(source) && (source.includes('/') || source.endsWith('.gguf'));

  if (isLocal) {
    if (!existsSync(source)) throw new Error(`model file ${resolve(source)} does not exist`);
    await copyFile(source, partial);
  } else if (catalog?.source.kind === 'generated' && source === catalog.key) {
    await writeTinyModel(partial, catalog.source.seed);
  } else {
    const uri = catalog && source === catalog.key && catalog.source.kind === 'huggingface' ? catalog.source.uri : source;
    const downloader = await createModelDownloader({ modelUri: uri, dirPath: opts.modelsDir, fileName: `${key}.gguf.part`, skipExisting: false, deleteTempFileOnCancel: false, onProgress: opts.onProgress });
    await downloader.download({ signal: opts.signal });
  }

  try {
    checkLoadable(await readGgufHeader(partial));
    const sha256 = await sha256File(partial);
    const pinned = findModel(key)?.sha256;
    if (pinned && pinned !== sha256) throw new Error(`the file is not the ${key} the network serves (sha256 ${sha256}, expected ${pinned})`);
    await rename(partial, target);
    return { key, path: target, sha256, sizeBytes: (await stat(target)).size };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
