/**
 * Recomputes every runner's reputation and trust tier, on a Temporal Schedule
 * (TRD_REPUTATION_INTERVAL_MS). The changes (promotions, demotions,
 * shadowbans) are its result and its memo.
 */
import { proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { ReputationActivities, ReputationChange } from '../activities/reputation-activities.js';

export const REPUTATION_SCHEDULE_ID = 'reputation-sweep';

const { recomputeReputation } = proxyActivities<ReputationActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5 },
});

export async function reputationSweep(): Promise<ReputationChange[]> {
  const changes = await recomputeReputation({});
  upsertMemo({
    changed: changes.length,
    promoted: changes.filter((c) => rank(c.tier.to) > rank(c.tier.from)).length,
    demoted: changes.filter((c) => rank(c.tier.to) < rank(c.tier.from)).length,
    shadowbanned: changes.filter((c) => c.shadowbannedReason).length,
  });
  return changes;
}

const rank = (tier: string) => ['probation', 'verified', 'trusted'].indexOf(tier);
