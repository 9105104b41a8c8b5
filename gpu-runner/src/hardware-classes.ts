/**
 * Zero-config defaults by hardware class: from the memory a GPU can give to
 * models (its VRAM, or the GPU share of unified memory), which catalog models
 * to serve, the context size, GPU layers and concurrency. The one table; a
 * test checks every class.
 */
import { findModel } from '@trd/protocol';

export interface HardwareClass {
  key: string;
  name: string;
  /** The least model memory (MiB) a machine of this class has. */
  minMemoryMiB: number;
  /** Catalog keys served by default, loaded in this order while they fit. */
  models: string[];
  contextSize: number;
  /** 'max' offloads every layer; 0 runs on the CPU. */
  gpuLayers: 'max' | 0;
  concurrency: number;
}

const GiB = 1024;

export const HARDWARE_CLASSES: readonly HardwareClass[] = [
  { key: 'cpu', name: 'no GPU (CPU only)', minMemoryMiB: 0, models: ['qwen2.5-0.5b-instruct'], contextSize: 2048, gpuLayers: 0, concurrency: 1 },
  { key: 'gpu-8gb', name: '8 GB (RTX 3050/4060 class)', minMemoryMiB: 7.5 * GiB, models: ['llama-3.2-3b-instruct', 'qwen2.5-1.5b-instruct'], contextSize: 4096, gpuLayers: 'max', concurrency: 2 },
  { key: 'gpu-12gb', name: '12 GB (RTX 3060 class)', minMemoryMiB: 11.5 * GiB, models: ['qwen2.5-7b-instruct', 'qwen2.5-1.5b-instruct'], contextSize: 8192, gpuLayers: 'max', concurrency: 2 },
  {
    key: 'gpu-16gb',
    name: '16 GB (RTX 4070 Ti Super / M3 Pro class)',
    minMemoryMiB: 15.5 * GiB,
    models: ['qwen2.5-7b-instruct', 'llama-3.2-3b-instruct', 'qwen2.5-1.5b-instruct'],
    contextSize: 8192,
    gpuLayers: 'max',
    concurrency: 4,
  },
  {
    key: 'gpu-24gb',
    name: '24 GB (RTX 4090 / M3 Max class)',
    minMemoryMiB: 23.5 * GiB,
    models: ['qwen2.5-7b-instruct', 'llama-3.2-3b-instruct', 'qwen2.5-1.5b-instruct', 'llama-3.2-1b-instruct', 'qwen2.5-0.5b-instruct'],
    contextSize: 16384,
    gpuLayers: 'max',
    concurrency: 6,
  },
  {
    key: 'gpu-40gb-plus',
    name: '40–80 GB (A100 / H100 class)',
    minMemoryMiB: 39.5 * GiB,
    models: ['qwen2.5-7b-instruct', 'llama-3.2-3b-instruct', 'qwen2.5-1.5b-instruct', 'llama-3.2-1b-instruct', 'qwen2.5-0.5b-instruct'],
    contextSize: 32768,
    gpuLayers: 'max',
    concurrency: 16,
  },
];

export interface DetectedHardware {
  /** node-llama-cpp's GPU type: false when it runs on the CPU. */
  gpu: string | false;
  /** Memory the GPU can give to models, in MiB (VRAM, or the GPU share of unified memory). */
  gpuMemoryMiB: number;
}

/** The largest class the machine reaches; without a GPU, the CPU class whatever the RAM. */
export function hardwareClassFor(hw: DetectedHardware): HardwareClass {
  if (hw.gpu === false) return HARDWARE_CLASSES[0];
  let chosen = HARDWARE_CLASSES[0];
  for (const c of HARDWARE_CLASSES) if (c.gpuLayers !== 0 && hw.gpuMemoryMiB >= c.minMemoryMiB) chosen = c;
  return chosen;
}

/** The class's models that fit in `freeMiB`, in order (a model fits when its minimum VRAM is left). */
export function modelsThatFit(c: HardwareClass, freeMiB: number): string[] {
  const out: string[] = [];
  let left = freeMiB;
  for (const key of c.models) {
    const need = findModel(key)?.minVramMiB ?? Infinity;
    if (c.gpuLayers === 0 || need <= left) {
      out.push(key);
      left -= c.gpuLayers === 0 ? 0 : need;
    }
  }
  return out;
}
