/** Writes GGUF v3 files: typed metadata, then tensor infos, then 32-byte aligned F32 tensor data. */
import { DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufType } from './format.js';

export type TypedValue =
  | { type: GgufType.UINT32 | GgufType.INT32 | GgufType.FLOAT32; value: number }
  | { type: GgufType.BOOL; value: boolean }
  | { type: GgufType.STRING; value: string }
  | { type: GgufType.ARRAY; itemType: GgufType.STRING; value: string[] }
  | { type: GgufType.ARRAY; itemType: GgufType.FLOAT32 | GgufType.INT32; value: number[] };

export interface TensorSpec {
  name: string;
  /** GGUF order: ne[0] is the innermost (contiguous) dimension. */
  shape: number[];
  data: Float32Array;
}

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  f32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  padTo(alignment: number): void {
    const rem = this.length % alignment;
    if (rem) this.push(Buffer.alloc(alignment - rem));
  }
  concat(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeScalar(sink: ByteSink, type: GgufType, value: unknown): void {
  switch (type) {
    case GgufType.UINT32:
      return sink.u32(value as number);
    case GgufType.INT32:
      return sink.i32(value as number);
    case GgufType.FLOAT32:
      return sink.f32(value as number);
    case GgufType.BOOL:
      return sink.push(Buffer.from([value ? 1 : 0]));
    case GgufType.STRING:
      return sink.str(value as string);
    default:
      throw new Error(`GGUF writer does not support value type ${type}`);
  }
}

export function writeGguf(metadata: Record<string, TypedValue>, tensors: TensorSpec[]): Buffer {
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(tensors.length);
  sink.u64(Object.keys(metadata).length);
  for (const [key, v] of Object.entries(metadata)) {
    sink.str(key);
    sink.u32(v.type);
    if (v.type === GgufType.ARRAY) {
      sink.u32(v.itemType);
      sink.u64(v.value.length);
      for (const item of v.value) writeScalar(sink, v.itemType, item);
    } else {
      writeScalar(sink, v.type, v.value);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new Error(`tensor ${t.name}: shape ${t.shape} needs ${elements} values, got ${t.data.length}`);
    sink.str(t.name);
    sink.u32(t.shape.length);
    for (const d of t.shape) sink.u64(d);
    sink.u32(GgmlType.F32);
    sink.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.data.byteLength / DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
  }
  sink.padTo(DEFAULT_ALIGNMENT);
  for (const t of tensors) {
    sink.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    sink.padTo(DEFAULT_ALIGNMENT);
  }
  return sink.concat();
}
