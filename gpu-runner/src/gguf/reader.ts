/**
 * Reads a GGUF file's header and metadata without loading tensors, and checks
 * what llama.cpp needs before we hand it a file: some missing keys make
 * llama.cpp abort the whole process, which no try/catch can stop.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { GGUF_MAGIC, GgufType, type GgufScalar } from './format.js';

export class GgufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}

export interface GgufArraySummary {
  itemType: GgufType;
  length: number;
}

export interface GgufHeader {
  version: number;
  tensorCount: number;
  metadata: Map<string, GgufScalar | GgufArraySummary>;
  /** Where the metadata ends (the tensor infos follow). */
  metadataEnd: number;
}

/** Bytes per item of the fixed-size value types; strings have their own length. */
const FIXED_SIZE: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.BOOL]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

const MAX_STRING_BYTES = 1 << 20;
const CHUNK = 1 << 20;

class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(private fh: FileHandle, private size: number) {}

  private async need(n: number): Promise<void> {
    if (this.pos + n > this.size) throw new GgufError(`file ends early at byte ${this.pos} (truncated or not GGUF)`);
    const have = this.bufStart + this.buf.length - this.pos;
    if (have >= n) return;
    const want = Math.max(n, CHUNK);
    const next = Buffer.alloc(Math.min(want, this.size - this.pos));
    await this.fh.read(next, 0, next.length, this.pos);
    this.buf = next;
    this.bufStart = this.pos;
  }
  private at(): number {
    return this.pos - this.bufStart;
  }
  async u32(): Promise<number> {
    await this.need(4);
    const v = this.buf.readUInt32LE(this.at());
    this.pos += 4;
    return v;
  }
  async u64(): Promise<bigint> {
    await this.need(8);
    const v = this.buf.readBigUInt64LE(this.at());
    this.pos += 8;
    return v;
  }
  async size64(what: string, max: number): Promise<number> {
    const v = await this.u64();
    if (v > BigInt(max)) throw new GgufError(`${what} of ${v} is beyond any sane GGUF file`);
    return Number(v);
  }
  /** Moves past `n` bytes without reading them: a huge array of numbers costs no time. */
  skip(n: number): void {
    if (this.pos + n > this.size) throw new GgufError(`file ends early: ${n} bytes wanted at byte ${this.pos} (truncated or not GGUF)`);
    this.pos += n;
  }
  async bytes(n: number): Promise<Buffer> {
    await this.need(n);
    const v = this.buf.subarray(this.at(), this.at() + n);
    this.pos += n;
    return v;
  }
  async string(): Promise<string> {
    const len = await this.size64('string length', MAX_STRING_BYTES);
    return (await this.bytes(len)).toString('utf8');
  }
  async scalar(type: GgufType): Promise<GgufScalar> {
    switch (type) {
      case GgufType.UINT8: return (await this.bytes(1)).readUInt8(0);
      case GgufType.INT8: return (await this.bytes(1)).readInt8(0);
      case GgufType.UINT16: return (await this.bytes(2)).readUInt16LE(0);
      case GgufType.INT16: return (await this.bytes(2)).readInt16LE(0);
      case GgufType.UINT32: return (await this.bytes(4)).readUInt32LE(0);
      case GgufType.INT32: return (await this.bytes(4)).readInt32LE(0);
      case GgufType.FLOAT32: return (await this.bytes(4)).readFloatLE(0);
      case GgufType.BOOL: return (await this.bytes(1)).readUInt8(0) !== 0;
      case GgufType.STRING: return this.string();
      case GgufType.UINT64: return (await this.bytes(8)).readBigUInt64LE(0);
      case GgufType.INT64: return (await this.bytes(8)).readBigInt64LE(0);
      case GgufType.FLOAT64: return (await this.bytes(8)).readDoubleLE(0);
      default: throw new GgufError(`unknown metadata value type ${type} at byte ${this.pos}`);
    }
  }
}

export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const cur = new FileCursor(fh, size);
    if ((await cur.u32()) !== GGUF_MAGIC) throw new GgufError('not a GGUF file (bad magic bytes)');
    const version = await cur.u32();
    if (version < 2 || version > 3) throw new GgufError(`unsupported GGUF version ${version} (this runner reads 2 and 3)`);
    const tensorCount = await cur.size64('tensor count', 1e6);
    const kvCount = await cur.size64('metadata count', 1e6);
    const metadata = new Map<string, GgufScalar | GgufArraySummary>();
    for (let i = 0; i < kvCount; i++) {
      const key = await cur.string();
      const type = (await cur.u32()) as GgufType;
      if (type === GgufType.ARRAY) {
        const itemType = (await cur.u32()) as GgufType;
        if (itemType === GgufType.ARRAY) throw new GgufError(`nested arrays are not supported (key ${key})`);
        const itemSize = FIXED_SIZE[itemType];
        if (itemSize === undefined && itemType !== GgufType.STRING) throw new GgufError(`unknown array item type ${itemType} (key ${key})`);
        const length = await cur.size64(`array length of ${key}`, 1e8);
        if (itemSize !== undefined) cur.skip(length * itemSize);
        else for (let j = 0; j < length; j++) await cur.string();
        metadata.set(key, { itemType, length });
      } else {
        metadata.set(key, await cur.scalar(type));
      }
    }
    return { version, tensorCount, metadata, metadataEnd: cur.pos };
  } finally {
    await fh.close();
  }
}

/** Keys llama.cpp requires for an architecture; the last two abort the process when missing. */
function requiredKeys(arch: string): string[] {
  return [
    `${arch}.context_length`,
    `${arch}.embedding_length`,
    `${arch}.block_count`,
    `${arch}.feed_forward_length`,
    `${arch}.attention.head_count`,
  ];
}

/** Throws a GgufError naming what is missing; returns the architecture. */
export function checkLoadable(header: GgufHeader): string {
  const arch = header.metadata.get('general.architecture');
  if (typeof arch !== 'string' || !arch) throw new GgufError('missing general.architecture');
  const missing = requiredKeys(arch).filter((k) => !header.metadata.has(k));
  if (!header.metadata.has('tokenizer.ggml.model')) missing.push('tokenizer.ggml.model');
  if (!header.metadata.has('tokenizer.ggml.tokens')) missing.push('tokenizer.ggml.tokens');
  if (missing.length) throw new GgufError(`model file lacks required metadata: ${missing.join(', ')}`);
  if (header.tensorCount === 0) throw new GgufError('model file has no tensors');
  return arch;
}
