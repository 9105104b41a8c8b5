/**
 * Cash payouts, in batches: started by a Temporal Schedule (daily by
 * default), it takes the payouts owners queued, pays each owner through a
 * Stripe Connect transfer, reconciles it with Stripe's record, and marks it
 * paid, or returns the credits when Stripe refuses. Owners on the USDC rail
 * are paid on the configured chain instead (since the `usdc-payouts` patch):
 * their transaction is signed once and stored, broadcast, and the payout is
 * paid after its confirmations, or the credits return when it reverted or
 * was dropped. The batch id is this
 * run's workflow id; the memo carries the batch's totals as they grow, so
 * finance sees them in Temporal's UI and CLI beside each named step.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { patched, proxyActivities, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { PayoutActivities, QueuedPayout } from '../activities/payout-activities.js';
import type { UsdcPayoutActivities } from '../activities/usdc-payout-activities.js';
import { PAYOUT_SEARCH_ATTRIBUTES, PlatformFailures, type SettlementInput, type SettlementSummary } from '../platform/workflow-api.js';

/** The batch's search attributes (named in platform/workflow-api.ts) as typed keys. */
export const PAYOUT_SEARCH_ATTRIBUTE_KEYS = {
  status: defineSearchAttributeKey(PAYOUT_SEARCH_ATTRIBUTES.status.name, SearchAttributeType.KEYWORD),
  payouts: defineSearchAttributeKey(PAYOUT_SEARCH_ATTRIBUTES.payouts.name, SearchAttributeType.INT),
  totalUsdCents: defineSearchAttributeKey(PAYOUT_SEARCH_ATTRIBUTES.totalUsdCents.name, SearchAttributeType.INT),
  paidUsdCents: defineSearchAttributeKey(PAYOUT_SEARCH_ATTRIBUTES.paidUsdCents.name, SearchAttributeType.INT),
};

export async function payoutSettlement(input: SettlementInput): Promise<SettlementSummary> {
  const steps = proxyActivities<PayoutActivities>({
    startToCloseTimeout: input.stepTimeoutMs,
    // No attempt limit: an outage delays the batch, it never drops a payout.
    retry: { initialInterval: input.retryInitialMs, backoffCoefficient: 2, maximumInterval: input.retryMaxMs, nonRetryableErrorTypes: [PlatformFailures.StripeNotConfigured] },
  });
  const batchId = workflowInfo().workflowId;
  const usdc = patched('usdc-payouts');
  const { stripeConfigured, payouts } = await steps.collectQueuedPayouts(usdc ? { batchId, rails: ['stripe', 'usdc'] } : { batchId });
  const summary: SettlementSummary = { batchId, stripeConfigured, payouts: payouts.length, paid: 0, returned: 0, held: 0, paidUsdCents: 0, paidCredits: 0, ...(usdc ? { paidUsdc: 0, paidUsdcBaseUnits: 0 } : {}) };
  // The chain: signing waits (funds, fees) back off like Stripe calls; confirmations are looked for every chainPollMs.
  const chainPollMs = input.chainPollMs ?? 2000;
  const onChain = proxyActivities<UsdcPayoutActivities>({
    startToCloseTimeout: input.stepTimeoutMs,
    retry: { initialInterval: chainPollMs, backoffCoefficient: 2, maximumInterval: Math.max(chainPollMs, input.retryMaxMs) },
  });
  const confirmations = proxyActivities<UsdcPayoutActivities>({
    startToCloseTimeout: input.stepTimeoutMs,
    retry: { initialInterval: chainPollMs, backoffCoefficient: 1 },
  });
  const paid = (payout: QueuedPayout) => {
    summary.paid++;
    summary.paidCredits += payout.credits;
    if (payout.rail === 'usdc') {
      summary.paidUsdc!++;
      summary.paidUsdcBaseUnits! += payout.usdcBaseUnits!;
    } else summary.paidUsdCents += payout.usdCents;
  };
  const payInUsdc = async (payout: QueuedPayout) => {
    const usdcPayout = { payoutId: payout.payoutId, ownerId: payout.ownerId, credits: payout.credits, usdcBaseUnits: payout.usdcBaseUnits!, usdcAddress: payout.usdcAddress ?? '' };
    const signed = await onChain.signUsdcTransfer({ payout: usdcPayout });
    if (!signed.ok) {
      await steps.returnCreditsToOwner({ payout, reason: signed.reason });
      summary.returned++;
      return;
    }
    await onChain.broadcastUsdcTransfer({ payoutId: payout.payoutId });
    const final = await confirmations.confirmUsdcTransfer({ payoutId: payout.payoutId });
    if (final.ok) {
      await steps.markPayoutPaid({ payout, transferId: final.txHash, usdcChainId: signed.chainId });
      paid(payout);
    } else {
      await steps.returnCreditsToOwner({ payout, reason: final.reason });
      summary.returned++;
    }
  };
  const totalUsdCents = payouts.reduce((n, p) => n + p.usdCents, 0);
  const progress = (status: 'paying' | 'settled') => {
    upsertSearchAttributes([
      { key: PAYOUT_SEARCH_ATTRIBUTE_KEYS.status, value: status },
      { key: PAYOUT_SEARCH_ATTRIBUTE_KEYS.payouts, value: payouts.length },
      { key: PAYOUT_SEARCH_ATTRIBUTE_KEYS.totalUsdCents, value: totalUsdCents },
      { key: PAYOUT_SEARCH_ATTRIBUTE_KEYS.paidUsdCents, value: summary.paidUsdCents },
    ]);
    upsertMemo({
      batch: batchId,
      payouts: summary.payouts,
      total_usd_cents: totalUsdCents,
      total_credits: payouts.reduce((n, p) => n + p.credits, 0),
      paid: summary.paid,
      paid_usd_cents: summary.paidUsdCents,
      ...(usdc ? { paid_usdc: summary.paidUsdc, paid_usdc_base_units: summary.paidUsdcBaseUnits } : {}),
      returned: summary.returned,
      held_for_review: summary.held,
    });
  };
  progress('paying');
  for (const payout of payouts) {
    if (payout.rail === 'usdc') {
      await payInUsdc(payout);
      progress('paying');
      continue;
    }
    const transfer = await steps.transferToOwner({ batchId, payout });
    if (!transfer.ok) {
      await steps.returnCreditsToOwner({ payout, reason: transfer.reason });
      summary.returned++;
    } else {
      const check = await steps.reconcileWithStripe({ payout, transferId: transfer.transferId });
      if (check.ok) {
        await steps.markPayoutPaid({ payout, transferId: transfer.transferId });
        paid(payout);
      } else {
        await steps.holdForReview({ payout, transferId: transfer.transferId, detail: check.detail });
        summary.held++;
      }
    }
    progress('paying');
  }
  progress('settled');
  return summary;
}
