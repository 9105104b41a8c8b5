/**
 * A tiny llama-architecture GGUF with seeded random weights: the model the
 * tests and the offline demo run, since no real model can be downloaded here.
 * The same seed gives the same bytes on every machine.
 *
 * Random weights alone mostly emit byte tokens (unreadable). To make the demo
 * read as text, every token embedding carries a constant 1.0 in dimension 0,
 * which survives the residual stream, and the output layer's dimension 0
 * rewards printable pieces and words and penalizes end-of-sequence, so
 * generations run to max_tokens.
 */
import { writeFile, mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GgufType } from './gguf/format.js';
import { writeGguf, type TensorSpec, type TypedValue } from './gguf/writer.js';

export const TINY_MODEL_SHAPE = {
  embedding: 64,
  blocks: 2,
  heads: 4,
  feedForward: 128,
  contextLength: 1024,
} as const;

const WORDS = (
  'the of and to in is it that was for on are with as be at by this from or have an they which one you had not but ' +
  'what all were when we there can your more if will up out many then them these so some her would make like him into ' +
  'time has two look more write go see number no way could people my than first water been call who oil its now find ' +
  'long down day did get come made may part network compute receipt token model worker job credit gpu'
).split(' ');

enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  BYTE = 6,
}

interface Vocab {
  tokens: string[];
  types: TokenType[];
  scores: number[];
  /** Pieces the output layer favours (printable text). */
  favoured: boolean[];
}

function buildVocab(): Vocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  const favoured = [false, false, false];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.BYTE);
    favoured.push(false);
  }
  const pieces = new Set<string>(['▁']);
  for (let c = 0x21; c <= 0x7e; c++) {
    pieces.add(String.fromCharCode(c));
    pieces.add(`▁${String.fromCharCode(c)}`);
  }
  for (const w of WORDS) pieces.add(`▁${w}`);
  for (const p of pieces) {
    tokens.push(p);
    types.push(TokenType.NORMAL);
    // Words and letters read as text; lone punctuation less so.
    favoured.push(/^▁[a-z]{2,}$/.test(p) || /^[a-z]$/.test(p) || p === '▁,' || p === '▁.');
  }
  // SentencePiece scores: higher merges first; byte and control tokens score 0.
  const scores = tokens.map((_, i) => (types[i] === TokenType.NORMAL ? -i : 0));
  return { tokens, types, scores, favoured };
}

/** mulberry32: small, fast and identical on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateTinyModel(seed: number): Buffer {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error('seed must be an integer in 0..2^32-1');
  const { embedding: E, blocks, heads, feedForward: F, contextLength } = TINY_MODEL_SHAPE;
  const vocab = buildVocab();
  const V = vocab.tokens.length;
  const rand = prng(seed);
  const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const ones = (n: number) => new Float32Array(n).fill(1);

  const tokenEmbd = uniform(E * V, 0.05);
  for (let v = 0; v < V; v++) tokenEmbd[v * E] = 1;
  const output = uniform(E * V, 0.5);
  for (let v = 0; v < V; v++) output[v * E] = vocab.favoured[v] ? 1.2 : v === 2 ? -2 : 0;

  const tensors: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [E, V], data: tokenEmbd },
    { name: 'output_norm.weight', shape: [E], data: ones(E) },
    { name: 'output.weight', shape: [E, V], data: output },
  ];
  for (let i = 0; i < blocks; i++) {
    const blk = (n: string) => `blk.${i}.${n}.weight`;
    tensors.push(
      { name: blk('attn_norm'), shape: [E], data: ones(E) },
      { name: blk('attn_q'), shape: [E, E], data: uniform(E * E, 0.05) },
      { name: blk('attn_k'), shape: [E, E], data: uniform(E * E, 0.05) },
      { name: blk('attn_v'), shape: [E, E], data: uniform(E * E, 0.05) },
      { name: blk('attn_output'), shape: [E, E], data: uniform(E * E, 0.05) },
      { name: blk('ffn_norm'), shape: [E], data: ones(E) },
      { name: blk('ffn_gate'), shape: [E, F], data: uniform(E * F, 0.05) },
      { name: blk('ffn_up'), shape: [E, F], data: uniform(E * F, 0.05) },
      { name: blk('ffn_down'), shape: [F, E], data: uniform(F * E, 0.05) },
    );
  }

  const u32 = (value: number): TypedValue => ({ type: GgufType.UINT32, value });
  const f32 = (value: number): TypedValue => ({ type: GgufType.FLOAT32, value });
  const metadata: Record<string, TypedValue> = {
    'general.architecture': { type: GgufType.STRING, value: 'llama' },
    'general.name': { type: GgufType.STRING, value: `trd-tiny-seed-${seed}` },
    'general.alignment': u32(32),
    'general.file_type': u32(0),
    'llama.context_length': u32(contextLength),
    'llama.embedding_length': u32(E),
    'llama.block_count': u32(blocks),
    'llama.feed_forward_length': u32(F),
    'llama.attention.head_count': u32(heads),
    'llama.attention.head_count_kv': u32(heads),
    'llama.rope.dimension_count': u32(E / heads),
    'llama.rope.freq_base': f32(10000),
    'llama.attention.layer_norm_rms_epsilon': f32(1e-5),
    'llama.vocab_size': u32(V),
    'tokenizer.ggml.model': { type: GgufType.STRING, value: 'llama' },
    'tokenizer.ggml.tokens': { type: GgufType.ARRAY, itemType: GgufType.STRING, value: vocab.tokens },
    'tokenizer.ggml.scores': { type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: vocab.scores },
    'tokenizer.ggml.token_type': { type: GgufType.ARRAY, itemType: GgufType.INT32, value: vocab.types },
    'tokenizer.ggml.unknown_token_id': u32(0),
    'tokenizer.ggml.bos_token_id': u32(1),
    'tokenizer.ggml.eos_token_id': u32(2),
    'tokenizer.ggml.add_bos_token': { type: GgufType.BOOL, value: true },
    'tokenizer.ggml.add_eos_token': { type: GgufType.BOOL, value: false },
  };
  return writeGguf(metadata, tensors);
}

/** Writes atomically, so a reader never sees half a model. */
export async function writeTinyModel(path: string, seed: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, generateTinyModel(seed));
  await rename(tmp, path);
}
