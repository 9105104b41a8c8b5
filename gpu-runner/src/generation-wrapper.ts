/**
 * The one seam where a test build of the runner changes how it generates
 * (gpu-runner/testing/: slow, stalled and dishonest runners for the platform's
 * tests). That build installs a wrapper before the CLI starts; the published
 * runner has none, so its generation is the engine's own, unbranched.
 */
import type { GenerateRequest, Generation, InferenceEngine } from './engine.js';

export interface GenerationWrapper {
  /** Said loudly at start: this runner misbehaves on purpose. */
  warning: string;
  /** Every generation of runInference goes through it. */
  generate(engine: InferenceEngine, req: GenerateRequest): Promise<Generation>;
  /** Added to every model load. */
  loadDelayMs?: number;
}

let installed: GenerationWrapper | undefined;

export function installGenerationWrapper(wrapper: GenerationWrapper): void {
  installed = wrapper;
}

export function installedGenerationWrapper(): GenerationWrapper | undefined {
  return installed;
}
