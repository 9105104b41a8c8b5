/**
 * `trd-worker start` with no --model: the machine's hardware class picks the
 * models (those that fit free VRAM and are on disk), the context size and
 * the concurrency. TRD_HARDWARE ('{"gpu":"cuda","gpuMemoryMiB":12288}')
 * overrides detection, for tests and for machines it gets wrong.
 */
import { existsSync } from 'node:fs';
import { getLlama, type Llama } from 'node-llama-cpp';
import { hardwareClassFor, modelsThatFit, type DetectedHardware, type HardwareClass } from './hardware-classes.js';
import { modelFilePath } from './model-files.js';

export async function detectHardware(env = process.env): Promise<DetectedHardware & { freeMiB: number }> {
  if (env.TRD_HARDWARE) {
    let parsed: Partial<DetectedHardware>;
    try {
      parsed = JSON.parse(env.TRD_HARDWARE);
    } catch {
      throw new Error('TRD_HARDWARE must be JSON like {"gpu":"cuda","gpuMemoryMiB":12288} (gpu false for none)');
    }
    if (typeof parsed !== 'object' || parsed === null) parsed = {};
    if ((parsed.gpu !== false && typeof parsed.gpu !== 'string') || !Number.isSafeInteger(parsed.gpuMemoryMiB) || parsed.gpuMemoryMiB! < 0) {
      throw new Error('TRD_HARDWARE needs "gpu" (a backend name, or false) and "gpuMemoryMiB" (a whole number)');
    }
    return { gpu: parsed.gpu!, gpuMemoryMiB: parsed.gpuMemoryMiB!, freeMiB: parsed.gpuMemoryMiB! };
  }
  const llama = await getLlama();
  const hw = await hardwareOf(llama);
  await llama.dispose();
  return hw;
}

/** What node-llama-cpp detects: the GPU backend, the memory the GPU can give to models (VRAM, or unified memory), and the free part. */
export async function hardwareOf(llama: Llama): Promise<DetectedHardware & { freeMiB: number }> {
  const vram = await llama.getVramState();
  return { gpu: llama.gpu, gpuMemoryMiB: Math.floor((vram.unifiedSize || vram.total) / 2 ** 20), freeMiB: Math.floor(vram.free / 2 ** 20) };
}

/** The class's models that fit and are downloaded; none is an error that names what to pull. */
export function defaultModels(cls: HardwareClass, freeMiB: number, modelsDir: string): string[] {
  const fitting = modelsThatFit(cls, freeMiB);
  const present = fitting.filter((key) => existsSync(modelFilePath(modelsDir, key)));
  if (present.length === 0) {
    const pull = fitting[0] ?? cls.models.at(-1)!;
    throw new Error(`no model to serve for this machine (${cls.name}): run \`trd-worker models pull ${pull}\`, or pass --model`);
  }
  return present;
}

export { hardwareClassFor };
