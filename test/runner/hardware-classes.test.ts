/** Zero-config defaults: each hardware class maps to its models, context, GPU layers and concurrency (detection injected). */
import { describe, expect, test } from '@jest/globals';
import { findModel } from '@trd/protocol';
import { HARDWARE_CLASSES, hardwareClassFor, modelsThatFit } from '../../gpu-runner/src/hardware-classes.js';

const GiB = 1024;

describe('hardware classes', () => {
  test.each([
    ['a machine without a GPU, whatever its RAM', { gpu: false as const, gpuMemoryMiB: 0 }, 'cpu', 0, 1],
    ['an 8 GB card', { gpu: 'cuda', gpuMemoryMiB: 8 * GiB }, 'gpu-8gb', 'max', 2],
    ['a 12 GB RTX 3060', { gpu: 'cuda', gpuMemoryMiB: 12 * GiB }, 'gpu-12gb', 'max', 2],
    ['a 16 GB card', { gpu: 'vulkan', gpuMemoryMiB: 16 * GiB }, 'gpu-16gb', 'max', 4],
    ['an M3 Pro (18 GB unified)', { gpu: 'metal', gpuMemoryMiB: 18 * GiB }, 'gpu-16gb', 'max', 4],
    ['a 24 GB RTX 4090', { gpu: 'cuda', gpuMemoryMiB: 24 * GiB }, 'gpu-24gb', 'max', 6],
    ['an 80 GB H100', { gpu: 'cuda', gpuMemoryMiB: 80 * GiB }, 'gpu-40gb-plus', 'max', 16],
    ['a 4 GB card (too small for a GPU class)', { gpu: 'cuda', gpuMemoryMiB: 4 * GiB }, 'cpu', 0, 1],
  ])('%s → %s', (_name, hw, key, gpuLayers, concurrency) => {
    const c = hardwareClassFor(hw);
    expect({ key: c.key, gpuLayers: c.gpuLayers, concurrency: c.concurrency }).toEqual({ key, gpuLayers, concurrency });
  });

  test.each(HARDWARE_CLASSES.map((c) => [c.key, c] as const))('%s serves catalog models that all fit its least memory at once', (_key, c) => {
    expect(c.models.length).toBeGreaterThan(0);
    for (const key of c.models) expect(findModel(key)).toBeDefined();
    if (c.gpuLayers === 'max') {
      expect(c.models.reduce((sum, key) => sum + findModel(key)!.minVramMiB, 0)).toBeLessThanOrEqual(c.minMemoryMiB);
      expect(modelsThatFit(c, c.minMemoryMiB)).toEqual(c.models);
    }
    expect(c.contextSize).toBeGreaterThanOrEqual(2048);
  });

  test('only the models that fit the free VRAM are loaded, in order', () => {
    const c = hardwareClassFor({ gpu: 'cuda', gpuMemoryMiB: 12 * GiB });
    expect(modelsThatFit(c, 7 * GiB)).toEqual(['qwen2.5-7b-instruct']);
    expect(modelsThatFit(c, 3 * GiB)).toEqual(['qwen2.5-1.5b-instruct']);
    expect(modelsThatFit(c, 1 * GiB)).toEqual([]);
  });
});
