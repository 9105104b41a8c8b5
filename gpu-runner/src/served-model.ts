/**
 * A model this runner serves: on disk always, in memory once loaded. A runner
 * started with `--load on-demand` keeps its models on disk and loads one when
 * the first job for it arrives (a cold start, which the job is not billed for).
 */
import { InferenceEngine } from './engine.js';
import type { ResolvedModel } from './model-files.js';

export interface LoadOptions {
  sequences: number;
  threads: number;
  contextSize?: number;
  /** Fault injection: added to every load, as a large model would take. */
  extraLoadDelayMs?: number;
}

export class ServedModel {
  private engine: InferenceEngine | null = null;
  private loading: Promise<InferenceEngine> | null = null;
  /** Work holding the model (jobs, audits): it is never unloaded under them. */
  private holders = 0;

  constructor(
    readonly model: ResolvedModel,
    private readonly options: LoadOptions,
  ) {}

  get key(): string {
    return this.model.key;
  }

  get loaded(): InferenceEngine | null {
    return this.engine;
  }

  get isLoading(): boolean {
    return this.loading !== null;
  }

  /** The engine, loading it first if needed; `loadMs` is how long this caller waited for a load (0 when warm). */
  async ensureLoaded(): Promise<{ engine: InferenceEngine; loadMs: number }> {
    if (this.engine) return { engine: this.engine, loadMs: 0 };
    const started = performance.now();
    this.loading ??= (async () => {
      try {
        if (this.options.extraLoadDelayMs) await new Promise((r) => setTimeout(r, this.options.extraLoadDelayMs));
        const engine = await InferenceEngine.load({
          modelPath: this.model.path,
          sequences: this.options.sequences,
          threads: this.options.threads,
          // The class's context, but never more than the model was trained for.
          contextSize: this.options.contextSize,
        });
        this.engine = engine;
        return engine;
      } finally {
        this.loading = null;
      }
    })();
    const engine = await this.loading;
    return { engine, loadMs: Math.round(performance.now() - started) };
  }

  /** Counts one more holder until the returned function is called (once). */
  hold(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (!released) this.holders--;
      released = true;
    };
  }

  /** Frees the model's memory if nothing holds or is loading it; the next job loads it again (a cold start). */
  async unloadIfUnused(): Promise<boolean> {
    if (!this.engine || this.loading || this.holders > 0) return false;
    const engine = this.engine;
    this.engine = null;
    await engine.dispose();
    return true;
  }

  async dispose(): Promise<void> {
    const engine = this.engine ?? (await this.loading?.catch(() => null));
    this.engine = null;
    await engine?.dispose();
  }
}

/**
 * What any work on a model holds while it runs: one of the runner's job
 * slots, the model loaded, then one of its sequences. free() gives back what
 * was taken, whichever step failed.
 */
export class ModelHold {
  private endJob?: () => void;
  private release?: () => void;
  private unhold?: () => void;

  async acquire(
    deps: { jobSlots: { acquire(signal: AbortSignal, waitMs: number): Promise<() => void> }; sequenceWaitMs: number },
    served: ServedModel,
    signal: AbortSignal,
    onLoaded: (loadMs: number) => void,
  ): Promise<{ engine: InferenceEngine; loadMs: number }> {
    this.endJob = await deps.jobSlots.acquire(signal, deps.sequenceWaitMs);
    this.unhold = served.hold();
    const loaded = await served.ensureLoaded();
    onLoaded(loaded.loadMs);
    this.release = await loaded.engine.acquireSequence(signal, deps.sequenceWaitMs);
    return loaded;
  }

  free(): void {
    this.release?.();
    this.unhold?.();
    this.endJob?.();
  }
}

