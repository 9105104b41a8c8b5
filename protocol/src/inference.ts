/** The contract between the inference-job workflow and the runners that serve it. */
import type { SignedDispatch } from './dispatch.js';
import { ISO_UTC_MS, SHA256_HEX } from './encoding.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface InferenceTask {
  jobId: string;
  model: string;
  /** The text to complete; for `promptFormat: 'chat'`, the messages as canonical JSON (what the receipt hashes). */
  prompt: string;
  /** 'chat': the runner applies the model's chat template to the messages in `prompt`. */
  promptFormat?: 'text' | 'chat';
  maxTokens: number;
  /** 0 means greedy decoding. */
  temperature: number;
  /** Nucleus sampling; absent or 1 means off. */
  topP?: number;
  /** 0..MAX_SEED. */
  seed?: number;
  /** The output ends before the first of these; it is not part of the output. */
  stop?: string[];
  /**
   * Streaming: the runner pushes text to the gateway as it is generated, with
   * this per-job token (POST /v1/jobs/:id/stream). The result still comes
   * through the workflow; the stream only makes it visible sooner.
   */
  streamToken?: string;
  /** The platform's signature over this dispatch (protocol/dispatch.ts); a runner refuses a task without a valid one. */
  dispatch?: SignedDispatch;
}

/**
 * The largest seed a job may ask for. llama.cpp's sampler takes a 32-bit unsigned seed and reads
 * 2^32-1 (LLAMA_DEFAULT_SEED) as "pick a random one", so that value would not reproduce (measured:
 * three runs at 2^32-1 gave three texts; at 2^32-2 one).
 */
export const MAX_SEED = 2 ** 32 - 2;

/**
 * What the orchestrator reads in place of a payload it refused to open (an unsealed one: not from the
 * platform, e.g. a result completed straight through Temporal's frontend; platform/payload-encryption.ts).
 * It carries the reason only, never the refused bytes, so the workflow can end the attempt cleanly
 * instead of failing its workflow task forever.
 */
export const REFUSED_PAYLOAD_FIELD = 'trd_refused_payload';

/** The refusal's reason when `value` is that placeholder, else null. */
export function refusedPayloadReason(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const reason = (value as Record<string, unknown>)[REFUSED_PAYLOAD_FIELD];
  return typeof reason === 'string' ? reason : null;
}

/** The messages of a chat job, as the runner reads them back from `InferenceTask.prompt`. */
export function parseChatPrompt(prompt: string): ChatMessage[] {
  const parsed: unknown = JSON.parse(prompt);
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error('a chat prompt is a non-empty array of messages');
  for (const m of parsed) {
    if (!m || typeof m.content !== 'string' || !['system', 'user', 'assistant'].includes(m.role)) {
      throw new Error('each chat message has a role (system, user or assistant) and a string content');
    }
  }
  return parsed as ChatMessage[];
}

/** One line of a runner's push stream: text that starts at `offset` (in UTF-16 units) of the output. */
export interface StreamChunk {
  offset: number;
  text: string;
  /** When the runner had the text, epoch ms (fractional): how stale a token is when it reaches the client. */
  at?: number;
}

export interface InferenceTimings {
  /** Loading the model for this job; 0 when the runner had it warm. */
  modelLoadMs: number;
  timeToFirstTokenMs: number;
  generationMs: number;
}

export interface InferenceResult {
  workerId: string;
  model: string;
  modelSha256: string;
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** `cancelled` only in the details of a cancelled attempt: what was generated before it stopped. */
  finishReason: 'length' | 'stop' | 'cancelled';
  /** ISO 8601 UTC on the runner's clock. */
  startedAt: string;
  finishedAt: string;
  timings: InferenceTimings;
}

/** Heartbeat details a runner reports while it works on a task. */
export interface InferenceProgress {
  workerId: string;
  completionTokens: number;
  /** What the runner is doing: loading the model, waiting for a free sequence, or generating. */
  phase: 'loading' | 'waiting' | 'generating';
}

/** The activities a runner registers; workflows import this type only. */
export interface RunnerActivities {
  runInference(task: InferenceTask): Promise<InferenceResult>;
}

/** ApplicationFailure types a runner throws that no retry can fix. */
export const InferenceErrors = {
  PromptTooLong: 'PromptTooLong',
  InvalidTask: 'InvalidTask',
} as const;

/** ApplicationFailure types a runner throws that a retry (often on another runner) can fix, and its refusal of a forged task. */
export const RunnerFailures = {
  /** Generation stopped making progress (the watchdog). */
  Stalled: 'Stalled',
  /** No free slot, or the device ran out of memory. */
  RunnerBusy: 'RunnerBusy',
  /** The platform's keys are out of reach, so the task's signature cannot be checked now. */
  DispatchUnverifiable: 'DispatchUnverifiable',
  /** Non-retryable: the task's dispatch envelope is unsigned, expired, not the platform's or mismatched. */
  DispatchRefused: 'DispatchRefused',
} as const;

/**
 * What is wrong with a runner's result for this task, or null. Pure, so the
 * workflow can run it: a runner's answer is checked before it is signed.
 */
export function inferenceResultProblem(task: InferenceTask, r: InferenceResult): string | null {
  const refused = refusedPayloadReason(r);
  if (refused !== null) return refused;
  if (r.model !== task.model) return `runner served model ${r.model}, the job asked for ${task.model}`;
  if (!SHA256_HEX.test(r.modelSha256)) return 'model hash is not a SHA-256 hex digest';
  if (typeof r.workerId !== 'string' || !r.workerId) return 'runner did not identify itself';
  if (!Number.isSafeInteger(r.promptTokens) || r.promptTokens <= 0) return 'prompt token count is not a positive integer';
  if (!Number.isSafeInteger(r.completionTokens) || r.completionTokens < 0 || r.completionTokens > task.maxTokens) {
    return `completion token count ${r.completionTokens} is outside 0..${task.maxTokens}`;
  }
  if (r.finishReason !== 'length' && r.finishReason !== 'stop') return `finish reason ${JSON.stringify(r.finishReason)} is not length or stop`;
  if (r.finishReason === 'length' && r.completionTokens !== task.maxTokens) return 'finished for length before max_tokens';
  if (typeof r.text !== 'string') return 'output text is missing';
  if (!ISO_UTC_MS.test(r.startedAt) || !ISO_UTC_MS.test(r.finishedAt)) return 'start and finish times must be ISO 8601 UTC with milliseconds';
  if (r.finishedAt < r.startedAt) return 'finished before it started';
  for (const [k, v] of Object.entries(r.timings ?? {})) {
    if (!Number.isSafeInteger(v) || v < 0) return `timing ${k} is not a non-negative integer of milliseconds`;
  }
  return null;
}
