/**
 * llama.cpp through node-llama-cpp: a model loaded once, a context with one
 * sequence per concurrent job, token-by-token generation that can be aborted.
 */
import type { ChatMessage } from '@trd/protocol';
import { getLlama, resolveChatWrapper, type ChatHistoryItem, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { Semaphore } from './semaphore.js';
import { StopAwareText } from './text-stream.js';

/** How long a freed sequence may take to come back (see newSequence); it takes well under a millisecond. */
const SEQUENCE_RECLAIM_WAIT_MS = 1000;

/** Tokens before a piece that detokenizing it looks at, so a word's leading space comes out right. */
const DETOKENIZE_CONTEXT = 8;

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
  /** The prompt holds chat messages: the model's chat template renders them. */
  chat?: ChatMessage[];
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  /** The output ends before the first of these. */
  stop?: string[];
  signal?: AbortSignal;
  /** Called after each token; generation waits for a returned promise. */
  onToken?: (count: number) => void | Promise<void>;
  /** Called with output text as soon as it is final (whole characters, never part of a stop string). */
  onText?: (text: string, offset: number) => void;
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
 * node-llama-cpp's sampler chain for a sampled job: top-k, then top-p (on the
 * untempered distribution), then temperature, then a seeded draw. The job
 * sets temperature, top-p and seed; top-k is node-llama-cpp's default, and so
 * is top-p when the job gives none (the protocol calls that "off", but
 * generation has always run with these defaults).
 */
export const DEFAULT_TOP_K = 40;
export const DEFAULT_TOP_P = 0.95;

/** The sampler settings a job generates with; an audit's prefill scores claimed tokens under the same ones. */
export interface Sampling {
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export function samplingOf(req: Pick<GenerateRequest, 'temperature' | 'topP' | 'seed'>): Sampling {
  return req.temperature > 0 ? { temperature: req.temperature, topK: DEFAULT_TOP_K, topP: req.topP ?? DEFAULT_TOP_P, seed: req.seed } : { temperature: 0 };
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

  /** The loaded model, for an audit that tokenizes and scores a claimed output on it. */
  get llamaModel(): LlamaModel {
    return this.model;
  }

  /**
   * A sequence of its own; the caller holds one of acquireSequence's slots and
   * disposes it. node-llama-cpp hands a disposed sequence's id back under a
   * lock, a moment after dispose() returns, so a slot freed just now may still
   * have no sequence: wait for it (bounded) rather than fail the job.
   */
  async newSequence(): Promise<LlamaContextSequence> {
    for (let waited = 0; this.context.sequencesLeft === 0 && waited < SEQUENCE_RECLAIM_WAIT_MS; waited += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return this.context.getSequence();
  }

  /** The prompt's tokens: the text as is, or the chat rendered by the model's own chat template. */
  promptTokens(req: Pick<GenerateRequest, 'prompt' | 'chat'>): Token[] {
    if (req.chat) {
      const history: ChatHistoryItem[] = req.chat.map((m) =>
        m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role, text: m.content },
      );
      if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
      const { contextText } = resolveChatWrapper(this.model).generateContextState({ chatHistory: history });
      return contextText.tokenize(this.model.tokenizer);
    }
    const bos = this.model.tokens.bos;
    return [...(bos !== null && this.model.tokens.shouldPrependBosToken ? [bos] : []), ...this.model.tokenize(req.prompt)];
  }

  async generate(req: GenerateRequest): Promise<Generation> {
    const promptTokens = this.promptTokens(req);
    if (promptTokens.length + req.maxTokens > this.contextSize) {
      throw new PromptTooLongError(promptTokens.length, req.maxTokens, this.contextSize);
    }
    const sequence = await this.newSequence();
    const started = performance.now();
    let firstTokenAt = 0;
    const output: Token[] = [];
    const text = new StopAwareText(req.stop);
    let shownChars = 0;
    const show = (piece: string) => {
      if (!piece) return;
      req.onText?.(piece, shownChars);
      shownChars += piece.length;
    };
    /** Output tokens not yet turned into text: a character split over byte tokens waits for its last byte. */
    let undecodedFrom = 0;
    const decode = (final: boolean) => {
      const piece = this.model.detokenize(output.slice(undecodedFrom), false, output.slice(Math.max(0, undecodedFrom - DETOKENIZE_CONTEXT), undecodedFrom));
      if (!final && piece.endsWith('\uFFFD')) return;
      undecodedFrom = output.length;
      show(text.push(piece));
    };
    let finishReason: Generation['finishReason'] = 'stop';
    const summary = (): Generation => {
      const ended = performance.now();
      if (undecodedFrom < output.length && !text.stopped) decode(true);
      show(text.flush());
      return {
        text: text.output,
        promptTokens: promptTokens.length,
        completionTokens: output.length,
        finishReason,
        timeToFirstTokenMs: Math.round((firstTokenAt || ended) - started),
        generationMs: Math.round(ended - (firstTokenAt || ended)),
      };
    };
    try {
      for await (const token of sequence.evaluate(promptTokens, samplingOf(req))) {
        req.signal?.throwIfAborted();
        if (output.length === 0) firstTokenAt = performance.now();
        // End of generation (end of turn, for a chat): the model is done; the token is not output.
        if (this.model.isEogToken(token)) break;
        output.push(token);
        decode(false);
        await req.onToken?.(output.length);
        if (text.stopped) break;
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
