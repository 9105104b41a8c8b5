/** The runner-decisions Schedule's action: sign what the platform decided about runners since the last run (activities/decision-activities.ts). */
import { proxyActivities } from '@temporalio/workflow';
import type { DecisionActivities } from '../activities/decision-activities.js';

const { signRunnerDecisions: sign } = proxyActivities<DecisionActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export async function signRunnerDecisions(): Promise<{ signed: number; runners: number }> {
  return sign();
}
