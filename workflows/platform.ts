/**
 * The orchestrator's own activities, as the job workflow calls them. They are
 * short and run where the workflow runs, so they are local activities: no
 * task-queue round trip each. From the runner's result to the workflow's
 * completion took 113 ms with regular activities and 64 ms with local ones
 * (event times of one job's history). Database and signing hiccups are
 * retried until they pass; bad data is not.
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { DispatchActivities } from '../activities/dispatch-activities.js';
import type { PlatformActivities } from '../activities/platform-activities.js';
import type { ReceiptActivities } from '../activities/receipt-activities.js';
import { PlatformFailures } from '../platform/workflow-api.js';

export const platform = proxyLocalActivities<PlatformActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: [PlatformFailures.InvalidReceipt, PlatformFailures.UnknownJob] },
});

/** Signing, alone or as a session's next link (which waits for the session's chain workflow). */
export const receipts = proxyLocalActivities<ReceiptActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: [PlatformFailures.InvalidReceipt, PlatformFailures.ChainConflict] },
});

/** Routing advice: best effort, so a failure is an answer ("no advice"), never a failed job. */
export const dispatch = proxyLocalActivities<DispatchActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 2, initialInterval: '200 ms' },
});
