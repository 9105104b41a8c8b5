/**
 * Every rate of the worker economy, in one place. Integers only: shares and
 * multipliers in basis points, money in microcredits (1 credit = 1,000,000 µcr).
 *
 * A job's earnings: the customer's charge × the owner's share × the runner's
 * trust-tier multiplier, rounded down to the microcredit; the platform keeps
 * the rest, so the two always sum to the charge.
 */
import type { TrustTier } from '@trd/protocol';

export const MICROCREDITS_PER_CREDIT = 1_000_000;

/** 1000 credits = 8.00 USD. */
export const USD_CENTS_PER_1000_CREDITS = 800;

/** The GPU owner's share of a job's charge before the tier multiplier. */
export const OWNER_SHARE_BPS = 7_000;

/**
 * An agent's author's share of each run's charge (a job that ran a published
 * agent), out of the platform's part: the runner earns what it would for any
 * job. 70% × 1.15 + 10% stays below the charge, so the platform's part is never negative.
 */
export const AGENT_AUTHOR_SHARE_BPS = 1_000;

/** Probation 0.9, Verified 1.0, Trusted 1.15. */
export const TIER_MULTIPLIER_BPS: Record<TrustTier, number> = {
  probation: 9_000,
  verified: 10_000,
  trusted: 11_500,
};

/** 1000 credits = 8 USDC = 8,000,000 USDC base units (USDC has 6 decimals). */
export const USDC_BASE_UNITS_PER_1000_CREDITS = 8_000_000;

/**
 * The one rounding rule for cash: whole credits in, whole units of the rail's
 * money out, rounded down (the platform never pays a fraction it was not owed).
 * Credits to USDC is exact (8,000 base units per credit); to USD cents it floors.
 */
function creditsTo(credits: number, unitsPer1000Credits: number): number {
  if (!Number.isSafeInteger(credits) || credits < 0) throw new RangeError(`credits must be a non-negative integer, got ${credits}`);
  return Number((BigInt(credits) * BigInt(unitsPer1000Credits)) / 1000n);
}

export function creditsToUsdCents(credits: number): number {
  return creditsTo(credits, USD_CENTS_PER_1000_CREDITS);
}

export function creditsToUsdcBaseUnits(credits: number): number {
  return creditsTo(credits, USDC_BASE_UNITS_PER_1000_CREDITS);
}

/** Splits a charge between the runner's owner and the platform, by the runner's tier. */
export function splitEarnings(charge: number, tier: TrustTier): { runner: number; platform: number } {
  if (!Number.isSafeInteger(charge) || charge < 0) throw new RangeError(`charge must be a non-negative integer, got ${charge}`);
  const multiplier = TIER_MULTIPLIER_BPS[tier];
  if (multiplier === undefined) throw new RangeError(`unknown trust tier ${JSON.stringify(tier)}`);
  // charge ≤ 2^53 / 1e8 keeps the product exact; BigInt covers charges beyond that.
  const runner = Number((BigInt(charge) * BigInt(OWNER_SHARE_BPS) * BigInt(multiplier)) / 100_000_000n);
  return { runner, platform: charge - runner };
}

/** The split of a run of a published agent: the runner's as for any job, the author's share out of the platform's part. */
export function splitAgentEarnings(charge: number, tier: TrustTier): { runner: number; author: number; platform: number } {
  const { runner, platform } = splitEarnings(charge, tier);
  const author = Number((BigInt(charge) * BigInt(AGENT_AUTHOR_SHARE_BPS)) / 10_000n);
  return { runner, author, platform: platform - author };
}

/**
 * The reward table: eight performance classes by generation speed measured by
 * the platform (tokens/s of the runner's finished jobs, as the orchestrator
 * timed them), in tokens/s on the reference model, Qwen2.5 1.5B Q4_K_M.
 * Speed on another model counts in proportion to its size (generation is
 * memory-bound: a model twice the bytes runs at about half the speed). What a
 * runner claims (`trd-worker bench`) never moves it up. `creditsPerHour` is
 * what a busy hour earns at the Verified multiplier: an estimate, not a promise.
 */
export interface PerformanceClass {
  key: string;
  label: string;
  minTokensPerSecond: number;
  creditsPerHour: number;
}

export const PERFORMANCE_CLASSES: readonly PerformanceClass[] = [
  { key: 'h100', label: 'H100-class', minTokensPerSecond: 400, creditsPerHour: 120 },
  { key: 'a100', label: 'A100-class', minTokensPerSecond: 300, creditsPerHour: 95 },
  { key: 'rtx-4090', label: 'RTX 4090-class', minTokensPerSecond: 220, creditsPerHour: 75 },
  { key: 'rtx-3090', label: 'RTX 3090 / 4080-class', minTokensPerSecond: 160, creditsPerHour: 60 },
  { key: 'rtx-4070', label: 'RTX 4070 / 3080-class', minTokensPerSecond: 120, creditsPerHour: 45 },
  { key: 'rtx-3060', label: 'RTX 3060-class', minTokensPerSecond: 80, creditsPerHour: 32 },
  { key: 'm3-max', label: 'M2/M3 Max-class', minTokensPerSecond: 50, creditsPerHour: 22 },
  { key: 'm3-pro', label: 'M2/M3 Pro-class', minTokensPerSecond: 0, creditsPerHour: 15 },
];

/** The reference model's size (the catalog's qwen2.5-1.5b-instruct). */
export const REFERENCE_MODEL_BYTES = 1117 * 1024 * 1024;

/** The class a measured speed earns; speeds are on the reference model (see referenceSpeed). */
export function performanceClass(referenceTokensPerSecond: number): PerformanceClass {
  return PERFORMANCE_CLASSES.find((c) => referenceTokensPerSecond >= c.minTokensPerSecond)!;
}

/** A speed measured on a model of `modelBytes`, as it would be on the reference model. */
export function referenceSpeed(tokensPerSecond: number, modelBytes: number): number {
  return (tokensPerSecond * modelBytes) / REFERENCE_MODEL_BYTES;
}

/**
 * The warm-pool credit: a runner kept idle with a model loaded while the network wants that warm capacity earns,
 * per such minute, this share of what a busy hour of the model costs, spread over the hour's minutes (rounded down).
 * 10%: keeping a model warm is worth something, but far less than serving from it.
 */
export const WARM_POOL_SHARE_BPS = 1_000;

export function warmMinuteMicrocredits(creditsPerHour: number): number {
  if (!Number.isSafeInteger(creditsPerHour) || creditsPerHour < 0) throw new RangeError(`creditsPerHour must be a non-negative integer, got ${creditsPerHour}`);
  return Number((BigInt(creditsPerHour) * BigInt(MICROCREDITS_PER_CREDIT) * BigInt(WARM_POOL_SHARE_BPS)) / (10_000n * 60n));
}
