/**
 * What a job costs and who earns it. Pure integer arithmetic, so the
 * inference-job workflow computes the same figures on every replay.
 *
 * Units: time in integer milliseconds; money in integer microcredits
 * (1 credit = 1,000,000 µcr; 1000 credits = 8.00 USD). Per-second billing at
 * realistic rates makes most jobs cost a fraction of a credit, so the ledger
 * counts microcredits; whole credits are what owners redeem.
 */
import type { InferenceTimings } from '@trd/protocol';

export { MICROCREDITS_PER_CREDIT } from './rates.js';

/**
 * The time a customer pays for: the runner's compute for the job (reading the
 * prompt, then generating). Loading a model (a cold start, a wake-up) and
 * waiting in a queue are never billed. A runner cannot bill more than the
 * platform saw the attempt take, whatever its timings say.
 */
export function billableMs(timings: InferenceTimings, observedAttemptMs: number): number {
  const compute = timings.timeToFirstTokenMs + timings.generationMs;
  return Math.max(0, Math.min(compute, Math.floor(observedAttemptMs)));
}

/**
 * The rounding rule, stated once: a charge is billable time at the model's
 * hourly rate, rounded half up to the microcredit.
 * µcr = ms × credits/hour × 1,000,000 / 3,600,000 = ms × credits/hour × 10 / 36.
 */
export function chargeMicrocredits(billable: number, creditsPerHour: number): number {
  assertNonNegativeInt('billable ms', billable);
  assertNonNegativeInt('credits per hour', creditsPerHour);
  return Math.floor((billable * creditsPerHour * 10 + 18) / 36);
}

function assertNonNegativeInt(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

/**
 * What a job holds against its organization's monthly cap while it is open:
 * the charge of reading the prompt and generating max_tokens at a floor speed.
 * The charge replaces it when the job ends (usually far less).
 */
export function reservationMicrocredits(maxTokens: number, creditsPerHour: number, rate: { msPerToken: number; promptMs: number }): number {
  assertNonNegativeInt('max tokens', maxTokens);
  return chargeMicrocredits(rate.promptMs + maxTokens * rate.msPerToken, creditsPerHour);
}

/** An upstream tier's price (cascade/config.ts): per token, prompt and completion apart, or per second of its answer. */
export type UpstreamPrice =
  | { per: 'token'; promptMicrocreditsPer1k: number; completionMicrocreditsPer1k: number }
  | { per: 'second'; creditsPerHour: number };

/**
 * What a job served by an upstream tier costs at `price`, stated once: per
 * token, tokens × microcredits per 1000, prompt and completion summed, then
 * rounded half up to the microcredit; per second, the network's rule
 * (chargeMicrocredits) over the upstream's answer time. The customer's charge
 * and the provider's cost are both this, at the tier's price and its cost.
 */
export function upstreamChargeMicrocredits(price: UpstreamPrice, usage: { promptTokens: number; completionTokens: number; answerMs: number }): number {
  if (price.per === 'second') return chargeMicrocredits(usage.answerMs, price.creditsPerHour);
  assertNonNegativeInt('prompt tokens', usage.promptTokens);
  assertNonNegativeInt('completion tokens', usage.completionTokens);
  assertNonNegativeInt('prompt price', price.promptMicrocreditsPer1k);
  assertNonNegativeInt('completion price', price.completionMicrocreditsPer1k);
  return Math.floor((usage.promptTokens * price.promptMicrocreditsPer1k + usage.completionTokens * price.completionMicrocreditsPer1k + 500) / 1000);
}
