/**
 * llama.cpp through node-llama-cpp: a model loaded once, a context with one
 * sequence per concurrent job, token-by-token generation that can be aborted.
 */
import { getLlama, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp';
import { availableParallelism } from 'node:os';
import { Semaphore } from './semaphore.js';

export interface EngineOptions {
  modelPath: string;
  /** Concurrent generations (context sequences). */
  sequences: number;
  threads: number;
  /** Tokens of context per sequence; defaults to the model's training context. */
  contextSize?: number;
}

export interface GenerateRequest {
  prompt: string;
  maxTokens: number;
  temperature: number;
  seed?: number;
  signal?: AbortSignal;
  /** Called after each token; generation waits for a returned promise. */
  onToken?: (count: number) => void | Promise<void>;
}

export interface Generation {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'length' | 'stop';
  timeToFirstTokenMs: number;
  generationMs: number;
}

/** Generation stopped by its abort signal; carries what was generated until then. */
export class GenerationAborted extends Error {
  constructor(readonly partial: Generation, readonly reason: unknown) {
    super(`generation aborted after ${partial.completionTokens} token(s): ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = 'GenerationAborted';
  }
}

export class PromptTooLongError extends Error {
  constructor(readonly promptTokens: number, readonly maxTokens: number, readonly contextSize: number) {
    super(`prompt (${promptTokens} tokens) plus max_tokens (${maxTokens}) exceeds the context of ${contextSize} tokens`);
    this.name = 'PromptTooLongError';
  }
}

/**
 * On a CPU, llama.cpp threads compete with everything else on the machine;
 * measured on 2 cores, one thread ran ~25x faster than two (README, Benchmark).
 * Half the cores, at least one, is the default.
 */
export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

export class InferenceEngine {
  /** A runner polls several task queues, so a task can arrive while every sequence is busy. */
  private readonly sequences: Semaphore;

  private constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    readonly loadMs: number,
  ) {
    this.sequences = new Semaphore(context.totalSequences);
  }

  /**
   * Waits for a free sequence (the task's heartbeats keep going meanwhile),
   * but not past `timeoutMs`: then SlotsBusyError, and the job goes elsewhere.
   */
  acquireSequence(signal: AbortSignal | undefined, timeoutMs: number): Promise<() => void> {
    return this.sequences.acquire(signal, timeoutMs);
  }

  static async load(opts: EngineOptions): Promise<InferenceEngine> {
    const started = performance.now();
    let lastError = '';
    const llama = await getLlama({
      logger: (level, message) => {
        if (level === 'error' || level === 'fatal') lastError = message.trim();
      },
    });
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: opts.modelPath });
    } catch (err) {
      // The JS error is only "Failed to load model"; llama.cpp's reason comes through the logger.
      throw new Error(`llama.cpp could not load ${opts.modelPath}: ${lastError || (err as Error).message}`);
    }
    const context = await model.createContext({
      sequences: opts.sequences,
      threads: opts.threads,
      contextSize: Math.min(opts.contextSize ?? 8192, model.trainContextSize),
    });
    return new InferenceEngine(model, context, Math.round(performance.now() - started));
  }

  /** Free VRAM in MiB, or null when llama.cpp runs on the CPU. */
  async freeVramMiB(): Promise<number | null> {
    const llama = this.model.llama;
    return llama.gpu === false ? null : Math.floor((await llama.getVramState()).free / 2 ** 20);
  }

  get contextSize(): number {
    return this.context.contextSize;
  }

  async generate(req: GenerateRequest): Promise<Generation> {
    const bos = this.model.tokens.bos;
    const promptTokens: Token[] = [...(bos !== null && this.model.tokens.shouldPrependBosToken ? [bos] : []), ...this.model.tokenize(req.prompt)];
    if (promptTokens.length + req.maxTokens > this.contextSize) {
      throw new PromptTooLongError(promptTokens.length, req.maxTokens, this.contextSize);
    }
    const sequence = this.context.getSequence();
    const started = performance.now();
    let firstTokenAt = 0;
    const output: Token[] = [];
    let finishReason: Generation['finishReason'] = 'stop';
    const summary = (): Generation => {
      const ended = performance.now();
      return {
        text: this.model.detokenize(output),
        promptTokens: promptTokens.length,
        completionTokens: output.length,
        finishReason,
        timeToFirstTokenMs: Math.round((firstTokenAt || ended) - started),
        generationMs: Math.round(ended - (firstTokenAt || ended)),
      };
    };
    try {
      const sampling = req.temperature > 0 ? { temperature: req.temperature, seed: req.seed } : { temperature: 0 };
      for await (const token of sequence.evaluate(promptTokens, sampling)) {
        req.signal?.throwIfAborted();
        if (output.length === 0) firstTokenAt = performance.now();
        output.push(token);
        await req.onToken?.(output.length);
        if (output.length >= req.maxTokens) {
          finishReason = 'length';
          break;
        }
      }
      req.signal?.throwIfAborted();
    } catch (err) {
      if (req.signal?.aborted) throw new GenerationAborted(summary(), req.signal.reason);
      throw err;
    } finally {
      sequence.dispose();
    }
    return summary();
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
