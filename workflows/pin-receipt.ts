/**
 * Pins one signed receipt: into the local content store (always), then to
 * Filecoin through Lighthouse when an API key is configured, retrying with
 * backoff for as long as it takes. Started by the signing activity and never
 * awaited by the job, so a slow or down pinning service never holds a job back.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { SignedReceipt } from '@trd/protocol';
import type { LighthouseOutcome, ReceiptActivities } from '../activities/receipt-activities.js';
import type { ReceiptSettings } from '../receipts/settings.js';

export interface PinInput {
  cid: string;
  receipt: SignedReceipt;
  retry: ReceiptSettings['pin'];
}

export interface PinOutcome {
  cid: string;
  local: true;
  lighthouse: LighthouseOutcome;
}

/** One pinning per receipt: the CID is the business key. */
export function pinWorkflowId(cid: string): string {
  return `pin-${cid}`;
}

export async function pinReceipt(input: PinInput): Promise<PinOutcome> {
  const { storeReceiptBlock, pinToLighthouse } = proxyActivities<ReceiptActivities>({
    startToCloseTimeout: input.retry.attemptTimeoutMs,
    retry: {
      initialInterval: input.retry.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: input.retry.retryMaxMs,
      // No attempt limit: a receipt is pinned in the end, however long the outage.
      nonRetryableErrorTypes: ['CidMismatch'],
    },
  });
  await storeReceiptBlock(input);
  const lighthouse = await pinToLighthouse({ cid: input.cid });
  return { cid: input.cid, local: true, lighthouse };
}
