/** The generated model: deterministic bytes, a valid GGUF, and real llama.cpp generation on it. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findModel } from '@trd/protocol';
import { InferenceEngine, PromptTooLongError } from '../../gpu-runner/src/engine.js';
import { GgufType } from '../../gpu-runner/src/gguf/format.js';
import { checkLoadable, readGgufHeader } from '../../gpu-runner/src/gguf/reader.js';
import { writeGguf } from '../../gpu-runner/src/gguf/writer.js';
import { generateTinyModel, TINY_MODEL_SHAPE, writeTinyModel } from '../../gpu-runner/src/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'tiny-'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the tiny model generator', () => {
  test('is byte-identical for a seed and differs across seeds', () => {
    const a = generateTinyModel(42);
    expect(sha256(generateTinyModel(42))).toBe(sha256(a));
    expect(sha256(generateTinyModel(43))).not.toBe(sha256(a));
    expect(a.length).toBeLessThan(4 * 1024 * 1024);
  });

  test("matches the catalog's pinned hash for trd-tiny", () => {
    const tiny = findModel('trd-tiny')!;
    expect(tiny.sources).toEqual([{ kind: 'generated', seed: 42 }]);
    expect(sha256(generateTinyModel(42))).toBe(tiny.sha256);
  });

  test('writes a GGUF whose metadata llama.cpp needs is all there', async () => {
    const path = join(dir, 'm.gguf');
    await writeTinyModel(path, 42);
    const header = await readGgufHeader(path);
    expect(checkLoadable(header)).toBe('llama');
    expect(header.version).toBe(3);
    expect(header.tensorCount).toBe(3 + 9 * TINY_MODEL_SHAPE.blocks);
    expect(header.metadata.get('llama.context_length')).toBe(TINY_MODEL_SHAPE.contextLength);
  });

  test('refuses bad seeds', () => {
    expect(() => generateTinyModel(-1)).toThrow(/seed/);
    expect(() => generateTinyModel(1.5)).toThrow(/seed/);
  });
});

describe('GGUF checks before llama.cpp sees a file', () => {
  test('a file missing a key that would abort llama.cpp is refused with its name', async () => {
    const path = join(dir, 'no-heads.gguf');
    writeFileSync(
      path,
      writeGguf(
        {
          'general.architecture': { type: GgufType.STRING, value: 'llama' },
          'llama.context_length': { type: GgufType.UINT32, value: 64 },
          'llama.embedding_length': { type: GgufType.UINT32, value: 8 },
          'llama.block_count': { type: GgufType.UINT32, value: 1 },
          'tokenizer.ggml.model': { type: GgufType.STRING, value: 'llama' },
          'tokenizer.ggml.tokens': { type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['a'] },
        },
        [{ name: 'token_embd.weight', shape: [8, 1], data: new Float32Array(8) }],
      ),
    );
    await expect(readGgufHeader(path).then(checkLoadable)).rejects.toThrow(/lacks required metadata: llama.feed_forward_length, llama.attention.head_count/);
  });

  test('a truncated file and a non-GGUF file are refused', async () => {
    const truncated = join(dir, 'truncated.gguf');
    writeFileSync(truncated, generateTinyModel(1).subarray(0, 100));
    await expect(readGgufHeader(truncated)).rejects.toThrow(/ends early/);
    const text = join(dir, 'text.gguf');
    writeFileSync(text, 'definitely not a model');
    await expect(readGgufHeader(text)).rejects.toThrow(/bad magic/);
  });
});

describe('node-llama-cpp on the generated model', () => {
  let engine: InferenceEngine;

  beforeAll(async () => {
    const path = join(dir, 'tiny.gguf');
    await writeTinyModel(path, 42);
    engine = await InferenceEngine.load({ modelPath: path, sequences: 1, threads: 1 });
  });

  afterAll(async () => {
    await engine?.dispose();
  });

  test('loads it and generates exactly max_tokens, the same tokens every time', async () => {
    const req = { prompt: 'Hello there', maxTokens: 50, temperature: 0 };
    const a = await engine.generate(req);
    const b = await engine.generate(req);
    expect(a.completionTokens).toBe(50);
    expect(a.finishReason).toBe('length');
    expect(a.text.length).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
  });

  test('refuses a prompt that does not fit the context', async () => {
    await expect(engine.generate({ prompt: 'x'.repeat(2000), maxTokens: 10, temperature: 0 })).rejects.toThrow(PromptTooLongError);
  });

  test('stops when aborted', async () => {
    const controller = new AbortController();
    let seen = 0;
    const run = engine.generate({
      prompt: 'abort me',
      maxTokens: 400,
      temperature: 0,
      signal: controller.signal,
      onToken: (n) => {
        seen = n;
        if (n === 5) controller.abort(new Error('cancelled by test'));
      },
    });
    await expect(run).rejects.toThrow('cancelled by test');
    expect(seen).toBe(5);
  });

  test('text shown as it is generated adds up to the output, with contiguous offsets', async () => {
    const pieces: Array<[string, number]> = [];
    const gen = await engine.generate({ prompt: 'Stream 🌍 me, 世界', maxTokens: 300, temperature: 0.8, seed: 7, onText: (t, o) => pieces.push([t, o]) });
    expect(pieces.length).toBeGreaterThan(20);
    expect(pieces.map(([t]) => t).join('')).toBe(gen.text);
    let at = 0;
    for (const [t, o] of pieces) {
      expect(o).toBe(at);
      expect(t).not.toContain('\uFFFD');
      at += t.length;
    }
  });

  test('a stop string ends the output before it and is never shown', async () => {
    const full = await engine.generate({ prompt: 'Stop somewhere', maxTokens: 120, temperature: 0 });
    const stop = full.text.slice(60, 64);
    const before = full.text.slice(0, full.text.indexOf(stop));
    let shown = '';
    const stopped = await engine.generate({ prompt: 'Stop somewhere', maxTokens: 120, temperature: 0, stop: ['never appears', stop], onText: (t) => (shown += t) });
    expect(stopped).toMatchObject({ text: before, finishReason: 'stop' });
    expect(stopped.completionTokens).toBeLessThan(120);
    expect(shown).toBe(before);
  });

  test("chat messages go through the model's chat template", async () => {
    const chat = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hello there' },
    ];
    const a = await engine.generate({ prompt: JSON.stringify(chat), chat, maxTokens: 20, temperature: 0 });
    const raw = await engine.generate({ prompt: 'Hello there', maxTokens: 20, temperature: 0 });
    // The template wraps the messages in its own markup: more prompt tokens than the text alone.
    expect(a.promptTokens).toBeGreaterThan(raw.promptTokens + 5);
    expect((await engine.generate({ prompt: JSON.stringify(chat), chat, maxTokens: 20, temperature: 0 })).text).toBe(a.text);
  });
});
