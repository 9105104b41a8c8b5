/**
 * The payout settlement's steps, named so that finance reading a batch's
 * history in Temporal's UI or CLI sees what happened: collect the queued
 * payouts, transfer to each owner's Stripe account, reconcile with Stripe's
 * record, then mark the payout paid or return the credits to the owner. Each
 * step is idempotent: the transfer by its key (`payout-<id>`), the ledger by
 * its transaction ids, the status by its current value.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type Stripe from 'stripe';
import { PAYOUT_CLEARING, PAYOUT_PAID, ownerAccount, postTransaction } from '../economy/ledger.js';
import { applyDueRailChanges } from '../economy/payout-rail.js';
import { MICROCREDITS_PER_CREDIT, creditsToUsdCents, creditsToUsdcBaseUnits } from '../economy/rates.js';
import { isStripeRefusal } from '../economy/stripe.js';
import type { Db } from '../platform/db.js';
import { PlatformFailures } from '../platform/workflow-api.js';

export interface QueuedPayout {
  payoutId: string;
  ownerId: string;
  credits: number;
  usdCents: number;
  /** The owner's Stripe Connect account; null if they never connected one. */
  destination: string | null;
  /** Absent in batches from before USDC payouts: Stripe. */
  rail?: 'stripe' | 'usdc';
  /** USDC payouts: the owner's address (fixed when the batch took the payout) and the amount in base units (6 decimals). */
  usdcAddress?: string | null;
  usdcBaseUnits?: number;
}

export type TransferOutcome = { ok: true; transferId: string } | { ok: false; reason: string };

export function createPayoutActivities(deps: { db: Db; stripe: Stripe | null; usdcConfigured?: boolean; clock?: () => Date }) {
  const { db, stripe } = deps;
  const now = deps.clock ?? (() => new Date());

  function requireStripe(): Stripe {
    if (!stripe) throw ApplicationFailure.nonRetryable('Stripe is not configured (TRD_STRIPE_SECRET_KEY)', PlatformFailures.StripeNotConfigured);
    return stripe;
  }

  return {
    /**
     * Takes every queued payout not yet in a batch into this one, on the rail
     * its owner has in force now (fixed on the payout, with the USDC address);
     * run again, it returns the same payouts. A batch that does not pay USDC
     * (`rails` absent: a run from before USDC payouts) takes Stripe payouts only.
     */
    async collectQueuedPayouts(req: { batchId: string; rails?: Array<'stripe' | 'usdc'> }): Promise<{ stripeConfigured: boolean; usdcConfigured?: boolean; payouts: QueuedPayout[] }> {
      const usdc = !!req.rails?.includes('usdc') && !!deps.usdcConfigured;
      // Without Stripe (or the chain) nothing can be paid on that rail: its payouts stay queued for a run that can.
      await db.$transaction(async (tx) => {
        await applyDueRailChanges(tx, now());
        const usdcOwners = (await tx.payoutRail.findMany({ where: { rail: 'usdc' }, select: { ownerId: true, usdcAddress: true } })).filter((o) => o.usdcAddress);
        const ids = usdcOwners.map((o) => o.ownerId);
        if (stripe) await tx.payoutRequest.updateMany({ where: { status: 'queued', batchId: null, ownerId: { notIn: ids } }, data: { batchId: req.batchId, rail: 'stripe' } });
        if (usdc) {
          for (const o of usdcOwners) {
            await tx.payoutRequest.updateMany({ where: { status: 'queued', batchId: null, ownerId: o.ownerId }, data: { batchId: req.batchId, rail: 'usdc', usdcAddress: o.usdcAddress } });
          }
        }
      });
      const rows = await db.payoutRequest.findMany({ where: { batchId: req.batchId, status: 'queued' }, orderBy: { createdAt: 'asc' } });
      const owners = await db.customer.findMany({ where: { id: { in: rows.map((r) => r.ownerId) } }, select: { id: true, stripeAccountId: true } });
      const account = new Map(owners.map((o) => [o.id, o.stripeAccountId]));
      return {
        stripeConfigured: !!stripe,
        ...(req.rails ? { usdcConfigured: usdc } : {}),
        payouts: rows.map((r) =>
          r.rail === 'usdc'
            ? { payoutId: r.id, ownerId: r.ownerId, credits: r.credits, usdCents: creditsToUsdCents(r.credits), destination: null, rail: 'usdc' as const, usdcAddress: r.usdcAddress, usdcBaseUnits: creditsToUsdcBaseUnits(r.credits) }
            : { payoutId: r.id, ownerId: r.ownerId, credits: r.credits, usdCents: creditsToUsdCents(r.credits), destination: account.get(r.ownerId) ?? null, ...(req.rails ? { rail: 'stripe' as const } : {}) },
        ),
      };
    },

    /** One Stripe Connect transfer per payout, whatever happens to this activity: the idempotency key is the payout's. */
    async transferToOwner(req: { batchId: string; payout: QueuedPayout }): Promise<TransferOutcome> {
      const p = req.payout;
      if (!p.destination) return { ok: false, reason: 'the owner has no connected Stripe account (POST /v1/me/payout-account)' };
      try {
        const transfer = await requireStripe().transfers.create(
          {
            amount: p.usdCents,
            currency: 'usd',
            destination: p.destination,
            transfer_group: req.batchId,
            metadata: { payout_id: p.payoutId, owner_id: p.ownerId, credits: String(p.credits) },
          },
          { idempotencyKey: `payout-${p.payoutId}` },
        );
        return { ok: true, transferId: transfer.id };
      } catch (err) {
        // A refusal is an answer (the credits go back); an outage is retried by Temporal.
        if (isStripeRefusal(err)) return { ok: false, reason: `Stripe refused the transfer: ${err.message}${err.code ? ` (${err.code})` : ''}` };
        throw err;
      }
    },

    /** Stripe's own record of the transfer must match the payout: amount, currency, destination, payout id. */
    async reconcileWithStripe(req: { payout: QueuedPayout; transferId: string }): Promise<{ ok: boolean; detail: string }> {
      const t = await requireStripe().transfers.retrieve(req.transferId);
      const p = req.payout;
      const problems = [
        t.amount !== p.usdCents && `amount ${t.amount} ≠ ${p.usdCents}`,
        t.currency !== 'usd' && `currency ${t.currency}`,
        (typeof t.destination === 'string' ? t.destination : t.destination?.id) !== p.destination && `destination ${String(t.destination)}`,
        t.metadata?.payout_id !== p.payoutId && `payout id ${t.metadata?.payout_id}`,
        t.reversed && 'reversed',
      ].filter(Boolean);
      return problems.length ? { ok: false, detail: `transfer ${t.id} does not match: ${problems.join(', ')}` } : { ok: true, detail: `transfer ${t.id} matches` };
    },

    /** `transferId`: the Stripe transfer, or for a USDC payout the transaction hash (`usdcChainId` set). */
    async markPayoutPaid(req: { payout: QueuedPayout; transferId: string; usdcChainId?: number }): Promise<void> {
      const p = req.payout;
      const usdc = req.usdcChainId !== undefined;
      await db.$transaction(async (tx) => {
        await postTransaction(tx, {
          id: `payout-paid:${p.payoutId}`,
          kind: 'payout_paid',
          note: usdc ? `USDC transfer ${req.transferId} on chain ${req.usdcChainId} to ${p.usdcAddress}` : `Stripe transfer ${req.transferId}`,
          postings: [
            { account: PAYOUT_CLEARING, amount: -p.credits * MICROCREDITS_PER_CREDIT },
            { account: PAYOUT_PAID, amount: p.credits * MICROCREDITS_PER_CREDIT },
          ],
        });
        await tx.payoutRequest.updateMany({ where: { id: p.payoutId, status: { in: ['queued', 'review'] } }, data: { status: 'paid', ...(usdc ? {} : { stripeTransferId: req.transferId }), settledAt: new Date() } });
      });
    },

    /** A transfer Stripe refused: the credits go back to the owner, with the reason in the ledger. */
    async returnCreditsToOwner(req: { payout: QueuedPayout; reason: string }): Promise<void> {
      const p = req.payout;
      await db.$transaction(async (tx) => {
        await postTransaction(tx, {
          id: `payout-returned:${p.payoutId}`,
          kind: 'payout_returned',
          note: req.reason,
          postings: [
            { account: PAYOUT_CLEARING, amount: -p.credits * MICROCREDITS_PER_CREDIT },
            { account: ownerAccount(p.ownerId), amount: p.credits * MICROCREDITS_PER_CREDIT },
          ],
        });
        await tx.payoutRequest.updateMany({ where: { id: p.payoutId, status: 'queued' }, data: { status: 'failed', detail: req.reason, settledAt: new Date() } });
      });
    },

    /** Money may have moved but Stripe's record disagrees: held for a person, credits neither paid nor returned. */
    async holdForReview(req: { payout: QueuedPayout; transferId: string; detail: string }): Promise<void> {
      await db.payoutRequest.updateMany({ where: { id: req.payout.payoutId, status: 'queued' }, data: { status: 'review', stripeTransferId: req.transferId, detail: req.detail } });
    },
  };
}

export type PayoutActivities = ReturnType<typeof createPayoutActivities>;
