/**
 * GGUF metadata from an untrusted model file (a download, a path the owner
 * passed): random bytes, truncated and bit-flipped real headers, absurd
 * lengths and counts. Each gets a GgufError (never a TypeError or RangeError),
 * in bounded time, without allocating what the file claims.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGUF_MAGIC, GgufType } from '../../gpu-runner/src/gguf/format.js';
import { GgufError, checkLoadable, readGgufHeader } from '../../gpu-runner/src/gguf/reader.js';
import { generateTinyModel } from '../../gpu-runner/src/tiny-model.js';
import { fuzz } from './fuzz-settings.js';

/** One file read must finish within this, however large its claims (generous for a loaded 2-core machine). */
const READ_BOUND_MS = 2000;
/** Memory a whole property may add: the files are kilobytes, so megabytes more would mean a claimed length was allocated. */
const RSS_BOUND_BYTES = 200 * 2 ** 20;

const dir = mkdtempSync(join(tmpdir(), 'fuzz-gguf-'));
let real: Buffer;
let headerEnd: number;
let n = 0;

beforeAll(async () => {
  const model = generateTinyModel(42);
  const path = join(dir, 'real.gguf');
  writeFileSync(path, model);
  headerEnd = (await readGgufHeader(path)).metadataEnd;
  // The reader never looks past the metadata; a little of what follows keeps the files small.
  real = model.subarray(0, headerEnd + 4096);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads `bytes` as a model file: the header when it is loadable, else the GgufError; anything else fails the test. */
async function readAsModel(bytes: Uint8Array): Promise<'loadable' | GgufError> {
  const path = join(dir, `f${n++}.gguf`);
  writeFileSync(path, bytes);
  const started = performance.now();
  try {
    checkLoadable(await readGgufHeader(path));
    return 'loadable';
  } catch (err) {
    if (!(err instanceof GgufError)) throw new Error(`not a GgufError: ${(err as Error)?.stack ?? err}`);
    expect(err.message.length).toBeGreaterThan(10);
    return err;
  } finally {
    expect(performance.now() - started).toBeLessThan(READ_BOUND_MS);
    rmSync(path, { force: true });
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
}
function ggufString(s: string, claimedLength?: bigint): Buffer {
  const bytes = Buffer.from(s);
  return Buffer.concat([u64(claimedLength ?? BigInt(bytes.length)), bytes]);
}

/** Keeps the memory of a whole property bounded. */
async function withinMemory(run: () => Promise<void>): Promise<void> {
  const before = process.memoryUsage().rss;
  await run();
  expect(process.memoryUsage().rss - before).toBeLessThan(RSS_BOUND_BYTES);
}

describe('a model file that is not what it claims', () => {
  test('the real header reads and is loadable (the baseline the mutations start from)', async () => {
    expect(await readAsModel(real)).toBe('loadable');
  });

  test('random bytes, with or without the GGUF magic and version', async () => {
    await withinMemory(() =>
      fuzz(
        fc.asyncProperty(fc.boolean(), fc.uint8Array({ maxLength: 2048 }), async (prefixed, rest) => {
          const bytes = prefixed ? Buffer.concat([u32(GGUF_MAGIC), u32(3), Buffer.from(rest)]) : rest;
          const result = await readAsModel(bytes);
          if (!prefixed) expect(result).not.toBe('loadable');
        }),
        0.5,
      ),
    );
  });

  test('a real header truncated anywhere', async () => {
    await withinMemory(() =>
      fuzz(
        fc.asyncProperty(fc.nat(), async (cut) => {
          const result = await readAsModel(real.subarray(0, cut % headerEnd));
          expect(result).toBeInstanceOf(GgufError);
          expect((result as GgufError).message).toMatch(/ends early|bad magic|not GGUF/);
        }),
        0.5,
      ),
    );
  });

  test('a real header with bits flipped or bytes overwritten', async () => {
    const change = fc.oneof(
      fc.record({ at: fc.nat(), bit: fc.nat({ max: 7 }) }).map(({ at, bit }) => (b: Buffer) => void (b[at % headerEnd] ^= 1 << bit)),
      // The lengths and counts sit in the first bytes and before each key and array: overwrite 8 bytes with an extreme.
      fc.record({ at: fc.nat(), v: fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n) }).map(({ at, v }) => (b: Buffer) => void u64(v).copy(b, at % Math.max(1, headerEnd - 8))),
    );
    await withinMemory(() =>
      fuzz(
        fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 4 }), async (changes) => {
          const bytes = Buffer.from(real);
          for (const c of changes) c(bytes);
          await readAsModel(bytes);
        }),
        0.5,
      ),
    );
  });

  test('absurd counts and lengths get a GgufError at once, with nothing allocated for them', async () => {
    const huge = fc.oneof(fc.bigUintN(64), fc.constantFrom(2n ** 64n - 1n, 2n ** 53n + 1n, 1_000_000_001n, 100_000_001n, 1n << 40n));
    const file = fc.oneof(
      // Tensor or metadata count.
      fc.tuple(huge, huge).map(([tensors, kvs]) => Buffer.concat([u32(GGUF_MAGIC), u32(3), u64(tensors), u64(kvs)])),
      // A key's length.
      huge.map((len) => Buffer.concat([u32(GGUF_MAGIC), u32(3), u64(1n), u64(1n), ggufString('general.architecture', len)])),
      // A string value's length.
      huge.map((len) => Buffer.concat([u32(GGUF_MAGIC), u32(3), u64(1n), u64(1n), ggufString('general.name'), u32(GgufType.STRING), ggufString('x', len)])),
      // An array's length, of any item type (and unknown ones).
      fc.tuple(huge, fc.nat({ max: 20 })).map(([len, itemType]) =>
        Buffer.concat([u32(GGUF_MAGIC), u32(3), u64(1n), u64(1n), ggufString('tokenizer.ggml.tokens'), u32(GgufType.ARRAY), u32(itemType), u64(len), Buffer.alloc(64)]),
      ),
    );
    await withinMemory(() =>
      fuzz(
        fc.asyncProperty(file, async (bytes) => {
          expect(await readAsModel(bytes)).toBeInstanceOf(GgufError);
        }),
        0.5,
      ),
    );
  });

  test('an array of 10^8 numbers in a small file is refused without reading 10^8 items', async () => {
    const bytes = Buffer.concat([u32(GGUF_MAGIC), u32(3), u64(1n), u64(1n), ggufString('tokenizer.ggml.scores'), u32(GgufType.ARRAY), u32(GgufType.FLOAT32), u64(100_000_000n)]);
    const result = await readAsModel(bytes);
    expect((result as GgufError).message).toMatch(/ends early/);
  });
});
