/**
 * Jobs for the audit tests and the audit benchmark: a fixed, varied mix
 * (greedy and sampled, text and chat, short to long, with and without stop
 * strings), the same on every run.
 */
import { RECOMMENDED_MIN_TOKEN_PROBABILITY, type ChatMessage } from '@trd/protocol';
import type { GenerateRequest } from '../../gpu-runner/src/engine.js';

/** The threshold the audit tests use for sampled jobs, honest and cheating alike (see its measurement in the protocol). */
export const MIN_TOKEN_PROBABILITY = RECOMMENDED_MIN_TOKEN_PROBABILITY;

export type AuditJob = Omit<GenerateRequest, 'signal' | 'onToken' | 'onText'>;

const TEXTS = ['The network of water', 'Hello there', 'Stream 🌍 me, 世界', 'a', 'Once upon a time the gpu made a receipt', 'credit job worker model token'];
const TEMPERATURES = [0, 0.3, 0.7, 1.0, 1.5];
const TOP_PS = [undefined, 0.9, 0.5, 1];
const STOPS = [undefined, undefined, [' water'], [' if', ' be'], ['at'], ['e']];
const LENGTHS = [1, 5, 16, 40, 80, 120];

export function auditJobs(count: number, offset = 0): AuditJob[] {
  const jobs: AuditJob[] = [];
  for (let n = offset; n < offset + count; n++) {
    const temperature = TEMPERATURES[n % TEMPERATURES.length]!;
    const chat = n % 3 === 0 ? chatOf(n) : undefined;
    jobs.push({
      prompt: chat ? JSON.stringify(chat) : `${TEXTS[n % TEXTS.length]} ${n}`,
      chat,
      maxTokens: LENGTHS[Math.floor(n / 2) % LENGTHS.length]!,
      temperature,
      topP: temperature > 0 ? TOP_PS[Math.floor(n / 5) % TOP_PS.length] : undefined,
      seed: temperature > 0 ? 1000 + n : undefined,
      stop: STOPS[Math.floor(n / 3) % STOPS.length],
    });
  }
  return jobs;
}

function chatOf(n: number): ChatMessage[] {
  const user: ChatMessage = { role: 'user', content: `${TEXTS[n % TEXTS.length]}?` };
  if (n % 2 === 0) return [{ role: 'system', content: 'Be brief.' }, user];
  // A chat that ends with the start of the answer: the model continues it.
  return [user, { role: 'assistant', content: 'The' }];
}
