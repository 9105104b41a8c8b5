/**
 * The warm pool's Schedule action: decide the minutes that ended since the last run and credit the runners that
 * kept the network's warm capacity (activities/warm-pool-activities.ts; the rules in economy/warm-pool.ts). The
 * run's time is the workflow's clock, so a retried activity decides the same minutes.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { WarmPoolActivities, WarmPoolResult } from '../activities/warm-pool-activities.js';
import type { WarmPoolInput } from '../economy/warm-pool.js';

const { creditWarmMinutes } = proxyActivities<WarmPoolActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export async function warmPoolCredits(input: WarmPoolInput): Promise<WarmPoolResult> {
  return creditWarmMinutes({ ...input, now: new Date().toISOString() });
}
