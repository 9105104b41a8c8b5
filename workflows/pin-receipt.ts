/**
 * Pins one signed receipt: into the local content store (always), then to
 * Filecoin through Lighthouse when an API key is configured, retrying with
 * backoff for as long as it takes. Started by the signing activity and never
 * awaited by the job, so a slow or down pinning service never holds a job back.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ReceiptActivities } from '../activities/receipt-activities.js';
import { PlatformFailures, type PinInput, type PinOutcome } from '../platform/workflow-api.js';

export async function pinReceipt(input: PinInput): Promise<PinOutcome> {
  const { storeReceiptBlock, pinToLighthouse } = proxyActivities<ReceiptActivities>({
    startToCloseTimeout: input.retry.attemptTimeoutMs,
    retry: {
      initialInterval: input.retry.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: input.retry.retryMaxMs,
      // No attempt limit: a receipt is pinned in the end, however long the outage.
      nonRetryableErrorTypes: [PlatformFailures.CidMismatch],
    },
  });
  await storeReceiptBlock(input);
  const lighthouse = await pinToLighthouse({ cid: input.cid });
  return { cid: input.cid, local: true, lighthouse };
}
