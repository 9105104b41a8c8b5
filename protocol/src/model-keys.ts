/**
 * Model keys and the catalog's pinned hashes, without the catalog's schema:
 * workflow code needs these, and the SDK evaluates every module of the
 * workflow bundle again for each workflow run, so loading zod and validating
 * the catalog there cost each job's workflow more than its own code did.
 * The catalog is validated where it is loaded whole (models.ts), at the
 * start of every process, so a bad entry never gets this far.
 */
import catalogData from '../catalog/models.json' with { type: 'json' };

export const MODEL_KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function assertModelKey(key: string): void {
  if (!MODEL_KEY.test(key)) {
    throw new Error(`invalid model key ${JSON.stringify(key)}: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit`);
  }
}

/** The catalog data file as imported (one import of it for every module that reads it). */
export const CATALOG_DATA: unknown = catalogData;

/** The pinned sha256 of the model `key` in the catalog, retired models included; null for a key it does not know. */
export function catalogSha256(key: string): string | null {
  const entry = (catalogData as { models: Array<{ key: string; sha256: string }> }).models.find((m) => m.key === key);
  return entry?.sha256 ?? null;
}
