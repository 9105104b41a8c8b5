/**
 * Each owner's payout rail: Stripe Connect (the default) or a USDC address on
 * the configured chain. A change never applies at once: it waits out the
 * platform's delay, shown on the dashboard and the API, so an owner whose API
 * key was stolen sees the new destination before any payout goes there, and
 * cancels it. A payout batch fixes the rail in force when it takes a payout.
 */
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../platform/db.js';

export type PayoutRailName = 'stripe' | 'usdc';

export interface PayoutRailState {
  rail: PayoutRailName;
  usdcAddress: string | null;
  pending: { rail: PayoutRailName; usdcAddress: string | null; effectiveAt: Date } | null;
}

/** Moves every change whose delay is over into force; run before reading rails. */
export async function applyDueRailChanges(db: Pick<Db, '$executeRaw'> | Prisma.TransactionClient, now: Date): Promise<void> {
  await db.$executeRaw`UPDATE payout_rails SET rail = pending_rail, usdc_address = pending_usdc_address,
    pending_rail = NULL, pending_usdc_address = NULL, pending_effective_at = NULL, updated_at = ${now}
    WHERE pending_effective_at IS NOT NULL AND pending_effective_at <= ${now}`;
}

export async function payoutRailOf(db: Db, ownerId: string, now: Date): Promise<PayoutRailState> {
  await applyDueRailChanges(db, now);
  const row = await db.payoutRail.findUnique({ where: { ownerId } });
  return {
    rail: (row?.rail ?? 'stripe') as PayoutRailName,
    usdcAddress: row?.usdcAddress ?? null,
    pending: row?.pendingRail ? { rail: row.pendingRail as PayoutRailName, usdcAddress: row.pendingUsdcAddress, effectiveAt: row.pendingEffectiveAt! } : null,
  };
}

/** Asks for a change; it takes effect `delayMs` from now (a change asked again replaces the pending one and restarts the delay). */
export async function requestRailChange(db: Db, ownerId: string, change: { rail: PayoutRailName; usdcAddress: string | null }, delayMs: number, now: Date): Promise<PayoutRailState> {
  const effectiveAt = new Date(now.getTime() + delayMs);
  const pending = { pendingRail: change.rail, pendingUsdcAddress: change.usdcAddress, pendingEffectiveAt: effectiveAt };
  await db.payoutRail.upsert({ where: { ownerId }, create: { ownerId, rail: 'stripe', ...pending }, update: pending });
  return payoutRailOf(db, ownerId, now);
}

export async function cancelRailChange(db: Db, ownerId: string, now: Date): Promise<PayoutRailState> {
  await db.payoutRail.updateMany({ where: { ownerId }, data: { pendingRail: null, pendingUsdcAddress: null, pendingEffectiveAt: null } });
  return payoutRailOf(db, ownerId, now);
}
