/**
 * One session's receipt chain. Jobs of a session finish concurrently; their
 * receipts are appended here one at a time (an update each, handled in
 * arrival order), so the session has one linear chain: each receipt names the
 * CID of the one before it. The history stays bounded: after
 * `maxAppendsPerRun` appends the chain continues as new with its head, and
 * after `idleMs` without appends it completes; the next append starts it
 * again from the receipts in the database.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChainedReceipt, ReceiptActivities, ReceiptFields } from '../activities/receipt-activities.js';
import { APPEND_RECEIPT_UPDATE, CHAIN_STATE_QUERY, PlatformFailures, type ChainInput, type ChainState } from '../platform/workflow-api.js';

export const appendReceiptUpdate = defineUpdate<ChainedReceipt, [{ fields: ReceiptFields }]>(APPEND_RECEIPT_UPDATE);
export const chainStateQuery = defineQuery<ChainState | null>(CHAIN_STATE_QUERY);

const receipts = proxyLocalActivities<ReceiptActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: [PlatformFailures.InvalidReceipt, PlatformFailures.ChainConflict] },
});

export async function receiptChain(input: ChainInput): Promise<ChainState> {
  let state: ChainState | null = input.state ?? null;
  // Appends taken by this run (a retried one included): at most maxAppendsPerRun, so the history stays bounded.
  let accepted = 0;
  let closing = false;
  // Appends run one after another: each waits for the one before it.
  let tail: Promise<unknown> = Promise.resolve();

  setHandler(chainStateQuery, () => state);
  setHandler(
    appendReceiptUpdate,
    (req) => {
      accepted++;
      const run = tail.then(async () => {
        await condition(() => state !== null);
        const s = state!;
        const link = await receipts.signChainLink({ sessionId: input.sessionId, seq: s.next, prev: s.head, fields: req.fields });
        // A job appended before (a retried update) gets its receipt back and moves nothing.
        if (link.seq === s.next) state = { next: s.next + 1, head: link.cid };
        return link;
      });
      tail = run.catch(() => undefined);
      return run;
    },
    {
      // Refused appends are retried by the caller's activity, and land in the next run.
      validator: (_req) => {
        if (closing || accepted >= input.settings.maxAppendsPerRun) throw new Error('this chain run is closing; append again');
      },
    },
  );

  if (state === null) state = await receipts.chainHead({ sessionId: input.sessionId });

  const rollOver = () => accepted >= input.settings.maxAppendsPerRun || workflowInfo().continueAsNewSuggested;
  for (;;) {
    const seen = accepted;
    const active = await condition(() => accepted !== seen || rollOver(), input.settings.idleMs);
    if (active && !rollOver()) continue;
    closing = true;
    await condition(allHandlersFinished);
    if (!active) return state;
    await continueAsNew<typeof receiptChain>({ sessionId: input.sessionId, settings: input.settings, state });
  }
}
