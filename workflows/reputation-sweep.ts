/**
 * Recomputes every runner's reputation and trust tier, on a Temporal Schedule
 * (TRD_REPUTATION_INTERVAL_MS). First it sends each runner that is up a bench
 * challenge (a short greedy job with a fresh prompt, on its own queue) and
 * times it here: speed the platform measured, whatever the runner claims.
 * The changes (promotions, demotions, shadowbans) are its result and its memo.
 * Since the `reputation-token` patch it then anchors the result on chain
 * (workflows/reputation-token.ts): mints, slashes and one batch of changes.
 */
import { ActivityFailure, patched, proxyActivities, upsertMemo, uuid4 } from '@temporalio/workflow';
import type { InferenceTask, RunnerActivities } from '@trd/protocol';
import { runnerQueue } from '@trd/protocol/queues';
import type { ChallengeTarget, ReputationActivities, ReputationChange } from '../activities/reputation-activities.js';
import type { ReceiptActivities } from '../activities/receipt-activities.js';
import type { SweepInput } from '../platform/workflow-api.js';
import { SIGNED_DISPATCH } from './inference-job.js';
import { REPUTATION_TOKEN_PATCH, anchorReputation } from './reputation-token.js';

const { recomputeReputation, challengeTargets, recordBenchChallenge } = proxyActivities<ReputationActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { signDispatch } = proxyActivities<ReceiptActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '10 seconds' },
});

async function challenge(target: ChallengeTarget, c: SweepInput['challenge']): Promise<void> {
  const runner = proxyActivities<RunnerActivities>({
    taskQueue: runnerQueue(target.runnerId),
    scheduleToStartTimeout: c.waitMs,
    startToCloseTimeout: c.timeoutMs,
    retry: { maximumAttempts: 1 },
  });
  // A fresh prompt each time: an answer cannot be replayed from an earlier challenge.
  const nonce = uuid4();
  const task: InferenceTask = { jobId: `job_${nonce.replace(/-/g, '')}`, model: target.model, prompt: `Bench challenge ${nonce}: describe the network.`, maxTokens: c.maxTokens, temperature: 0 };
  if (patched(SIGNED_DISPATCH)) {
    const expiresAt = new Date(Date.now() + c.waitMs + c.timeoutMs).toISOString();
    task.dispatch = await signDispatch({ jobId: task.jobId, model: task.model, prompt: task.prompt, attempt: 1, expiresAt });
  }
  const sentAt = Date.now();
  try {
    const result = await runner.runInference(task);
    await recordBenchChallenge({ target, task, result, elapsedMs: Date.now() - sentAt });
  } catch (err) {
    // Busy, gone or failing: no measurement this time; its jobs still count.
    if (!(err instanceof ActivityFailure)) throw err;
  }
}

export async function reputationSweep(input: SweepInput): Promise<ReputationChange[]> {
  await Promise.all((await challengeTargets()).map((t) => challenge(t, input.challenge)));
  const changes = await recomputeReputation({});
  const token = patched(REPUTATION_TOKEN_PATCH) ? await anchorReputation(input.token) : null;
  upsertMemo({
    ...(token ? { token_minted: token.minted, token_slashed: token.slashed, token_updated: token.updated, token_problems: token.problems } : {}),
    changed: changes.length,
    promoted: changes.filter((c) => rank(c.tier.to) > rank(c.tier.from)).length,
    demoted: changes.filter((c) => rank(c.tier.to) < rank(c.tier.from)).length,
    shadowbanned: changes.filter((c) => c.shadowbannedReason).length,
  });
  return changes;
}

const rank = (tier: string) => ['probation', 'verified', 'trusted'].indexOf(tier);
