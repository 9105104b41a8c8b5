/**
 * The model catalog: what the network serves. The gateway accepts jobs only
 * for these keys, and runners poll `model.<key>` queues for them.
 */

export type ModelSource =
  /** Written by `trd-worker models generate` from a seed: byte-identical everywhere. */
  | { kind: 'generated'; seed: number }
  /** A GGUF file on Hugging Face, as node-llama-cpp's `hf:` URI. */
  | { kind: 'huggingface'; uri: string };

export interface CatalogModel {
  key: string;
  name: string;
  source: ModelSource;
  /** Pinned content hash; when set, runners serving another file under this key are refused. */
  sha256?: string;
  contextLength: number;
  /** Upper bound on `max_tokens` a job may ask for. */
  maxOutputTokens: number;
  quantization: string;
  approxSizeBytes: number;
  minVramMiB: number;
  /** Price of one hour of generation, in whole credits (economy/billing.ts turns it into a charge). */
  creditsPerHour: number;
}

const MiB = 1024 * 1024;

export const MODEL_CATALOG: readonly CatalogModel[] = [
  {
    key: 'trd-tiny',
    name: 'TRD tiny (generated, random weights; for tests and the offline demo)',
    source: { kind: 'generated', seed: 42 },
    // Pinned: the generator test fails if the generator's output drifts from it.
    sha256: '9c7a9e84c91e8d0a1d1e3463628b395b83ece9524fe5f0131586d51ac573ca71',
    contextLength: 1024,
    maxOutputTokens: 512,
    quantization: 'F32',
    approxSizeBytes: 1 * MiB,
    minVramMiB: 0,
    creditsPerHour: 36,
  },
  {
    key: 'qwen2.5-0.5b-instruct',
    name: 'Qwen2.5 0.5B Instruct',
    source: { kind: 'huggingface', uri: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf' },
    contextLength: 32768,
    maxOutputTokens: 4096,
    quantization: 'Q4_K_M',
    approxSizeBytes: 491 * MiB,
    minVramMiB: 1024,
    creditsPerHour: 12,
  },
  {
    key: 'qwen2.5-1.5b-instruct',
    name: 'Qwen2.5 1.5B Instruct',
    source: { kind: 'huggingface', uri: 'hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf' },
    contextLength: 32768,
    maxOutputTokens: 4096,
    quantization: 'Q4_K_M',
    approxSizeBytes: 1117 * MiB,
    minVramMiB: 2048,
    creditsPerHour: 24,
  },
  {
    key: 'qwen2.5-7b-instruct',
    name: 'Qwen2.5 7B Instruct',
    source: { kind: 'huggingface', uri: 'hf:Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m.gguf' },
    contextLength: 32768,
    maxOutputTokens: 4096,
    quantization: 'Q4_K_M',
    approxSizeBytes: 4683 * MiB,
    minVramMiB: 6144,
    creditsPerHour: 72,
  },
  {
    key: 'llama-3.2-1b-instruct',
    name: 'Llama 3.2 1B Instruct',
    source: { kind: 'huggingface', uri: 'hf:bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf' },
    contextLength: 131072,
    maxOutputTokens: 4096,
    quantization: 'Q4_K_M',
    approxSizeBytes: 808 * MiB,
    minVramMiB: 1536,
    creditsPerHour: 18,
  },
  {
    key: 'llama-3.2-3b-instruct',
    name: 'Llama 3.2 3B Instruct',
    source: { kind: 'huggingface', uri: 'hf:bartowski/Llama-3.2-3B-Instruct-GGUF/Llama-3.2-3B-Instruct-Q4_K_M.gguf' },
    contextLength: 131072,
    maxOutputTokens: 4096,
    quantization: 'Q4_K_M',
    approxSizeBytes: 2020 * MiB,
    minVramMiB: 3072,
    creditsPerHour: 36,
  },
];

const MODEL_KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function assertModelKey(key: string): void {
  if (!MODEL_KEY.test(key)) {
    throw new Error(`invalid model key ${JSON.stringify(key)}: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit`);
  }
}

export function findModel(key: string): CatalogModel | undefined {
  return MODEL_CATALOG.find((m) => m.key === key);
}
