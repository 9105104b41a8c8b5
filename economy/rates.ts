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

/** Probation 0.9, Verified 1.0, Trusted 1.15. */
export const TIER_MULTIPLIER_BPS: Record<TrustTier, number> = {
  probation: 9_000,
  verified: 10_000,
  trusted: 11_500,
};

/** Cash payouts start at this many credits (40.00 USD); build credits have no minimum. */
export const DEFAULT_PAYOUT_MINIMUM_CREDITS = 5_000;

export function creditsToUsdCents(credits: number): number {
  return Math.floor((credits * USD_CENTS_PER_1000_CREDITS) / 1000);
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
