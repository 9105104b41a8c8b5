/**
 * Turns `--model <key|path>` into a checked model file: a catalog key is
 * looked up in the models folder (the generated tiny model is written on
 * first use), a path is taken as is. Every file is checked as GGUF before
 * llama.cpp sees it, and hashed for the receipt.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { assertModelKey, findModel, findModelBySha256, generatedSeed, type CatalogModel } from '@trd/protocol';
import { checkLoadable, readGgufHeader } from './gguf/reader.js';
import { writeTinyModel } from './tiny-model.js';

export interface ResolvedModel {
  key: string;
  path: string;
  sha256: string;
  catalog?: CatalogModel;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function modelFilePath(modelsDir: string, key: string): string {
  return join(modelsDir, `${key}.gguf`);
}

export async function resolveModel(spec: string, opts: { modelsDir: string; keyOverride?: string }): Promise<ResolvedModel> {
  const looksLikePath = spec.includes('/') || spec.endsWith('.gguf');
  let path: string;
  let catalog: CatalogModel | undefined;
  if (looksLikePath) {
    path = resolve(spec);
    if (!existsSync(path)) throw new Error(`model file ${path} does not exist`);
  } else {
    catalog = findModel(spec);
    if (!catalog) throw new Error(`"${spec}" is neither a model file nor a catalog model key`);
    path = modelFilePath(opts.modelsDir, catalog.key);
    if (!existsSync(path)) {
      const seed = generatedSeed(catalog);
      if (seed === undefined) {
        throw new Error(`${catalog.key} is not downloaded yet: run \`trd-worker models pull ${catalog.key}\` first`);
      }
      await writeTinyModel(path, seed);
    }
  }

  assertReadableFile(path);
  checkLoadable(await readGgufHeader(path));
  const sha256 = await sha256File(path);
  if (looksLikePath) {
    catalog = opts.keyOverride ? findModel(opts.keyOverride) : undefined;
    catalog ??= findModelBySha256(sha256);
  }
  const key = opts.keyOverride ?? catalog?.key;
  if (!key) throw new Error(`${path} is not a catalog model; name the key it serves with --model-key`);
  assertModelKey(key);
  if (catalog?.sha256 && catalog.sha256 !== sha256) {
    throw new Error(`${path} is not the ${catalog.key} the network serves (sha256 ${sha256}, expected ${catalog.sha256})`);
  }
  return { key, path, sha256, catalog };
}

/** A directory or a file this user cannot read fails here, in words, not as EISDIR or EACCES from a read. */
function assertReadableFile(path: string): void {
  if (!statSync(path).isFile()) throw new Error(`model file ${path} is not a regular file (a directory?): pass the .gguf file itself`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new Error(`cannot read model file ${path}: permission denied; make it readable by the user that runs trd-worker`);
  }
}
