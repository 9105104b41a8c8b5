/** Runs a Temporal Schedule's workflow now, as its next due time would, and waits for its result. */
import type { TestStack } from './stack.js';

let lastTrigger = 0;

export async function runScheduled<T>(stack: TestStack, scheduleId: string, workflowType: string, during?: () => Promise<void>): Promise<{ result: T; workflowId: string }> {
  // A scheduled run's workflow id carries its time to the second: two triggers within one second would be one run.
  while (Math.floor(Date.now() / 1000) <= Math.floor(lastTrigger / 1000)) await new Promise((r) => setTimeout(r, 50));
  lastTrigger = Date.now();
  const query = `WorkflowType = "${workflowType}"`;
  // A run of this trigger starts after it, on the same machine's clock; every earlier run started before. (Telling
  // them apart by a list taken before the trigger failed under load: visibility lags, a previous run left off that
  // list passed for this one, the likeliest reading of a CI sweep whose memo said token_slashed 0.)
  const triggerCalledAt = Date.now();
  await stack.client.schedule.getHandle(scheduleId).trigger();
  const deadline = Date.now() + 20_000;
  let triggeredAt = Date.now();
  for (;;) {
    for await (const w of stack.client.workflow.list({ query })) {
      if (w.startTime.getTime() < triggerCalledAt) continue;
      await during?.();
      return { result: await stack.client.workflow.getHandle(w.workflowId).result(), workflowId: w.workflowId };
    }
    if (Date.now() > deadline) throw new Error(`the ${scheduleId} schedule did not start a ${workflowType}`);
    // A schedule that skips overlaps learns of its last run's end a moment late, and skips a trigger meanwhile.
    if (Date.now() - triggeredAt > 3000) {
      lastTrigger = triggeredAt = Date.now();
      await stack.client.schedule.getHandle(scheduleId).trigger();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The running `workflowType`'s pending activity failure (type: message), once one matches: why a step waits. */
export async function waitForPendingFailure(stack: TestStack, workflowType: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    for await (const w of stack.client.workflow.list({ query: `WorkflowType = "${workflowType}" AND ExecutionStatus = "Running"` })) {
      for (const a of (await stack.client.workflow.getHandle(w.workflowId).describe()).raw.pendingActivities ?? []) {
        seen = `${a.lastFailure?.applicationFailureInfo?.type}: ${a.lastFailure?.message}`;
        if (pattern.test(seen)) return seen;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no pending ${workflowType} activity failed with ${pattern} within ${timeoutMs} ms; last: ${seen}`);
}
