/**
 * The cascade's part of the job workflow: when the network cannot serve a job
 * (no runner took it within its warm and cold waits) or the customer sent it
 * straight up, the job goes to its upstream tiers in order, each an activity
 * with its own retry policy; a tier that fails, refuses or times out passes
 * the job on, and the job's deadline bounds the whole. The tier that serves
 * is billed at its price, named in the signed receipt (no worker id), and the
 * ledger records the provider's cost and the margin; no runner earns.
 * Deterministic: the call is an activity, the tiers came in the input.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { SignedReceipt } from '@trd/protocol';
import { ISO_UTC_MS } from '@trd/protocol/encoding';
import type { UpstreamBilling } from '../activities/platform-activities.js';
import type { UpstreamActivities, UpstreamResult } from '../activities/upstream-activities.js';
import { upstreamChargeMicrocredits } from '../economy/billing.js';
import { NON_RETRYABLE_UPSTREAM_ERRORS, upstreamLabel, type UpstreamTierInput } from '../cascade/tiers.js';
import { rootMessage } from './failures.js';
import type { JobInput, JobOutcome } from '../platform/workflow-api.js';
import { ReceiptNotSigned, fail, signJobReceipt } from './outcomes.js';
import { platform } from './platform.js';

/** Marks histories of jobs that may fall through to upstream tiers. */
export const CASCADE = 'cascade-v1';

/** Tries each upstream tier in order until one serves; `networkProblem` says why the network did not. */
export async function serveUpstream(input: JobInput, deadline: number, networkProblem: string | null): Promise<JobOutcome> {
  const problems = networkProblem ? [`network: ${networkProblem}`] : [];
  for (const tier of input.upstream ?? []) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      problems.push('the deadline passed');
      break;
    }
    const upstream = proxyActivities<UpstreamActivities>({
      startToCloseTimeout: Math.min(tier.timeoutMs, remainingMs),
      scheduleToCloseTimeout: remainingMs,
      heartbeatTimeout: input.limits.heartbeatTimeoutMs,
      retry: { maximumAttempts: tier.maxAttempts, initialInterval: tier.retryInitialIntervalMs, nonRetryableErrorTypes: NON_RETRYABLE_UPSTREAM_ERRORS },
    });
    let result: UpstreamResult;
    try {
      result = await upstream.callUpstream({
        jobId: input.jobId,
        tier: tier.name,
        ...(tier.kind ? { kind: tier.kind } : {}),
        model: input.model,
        prompt: input.prompt,
        maxTokens: input.maxTokens,
        temperature: input.temperature,
        stream: input.streamToken !== undefined,
        ...(input.promptFormat ? { promptFormat: input.promptFormat } : {}),
        ...(input.topP !== undefined ? { topP: input.topP } : {}),
        ...(input.seed !== undefined ? { seed: input.seed } : {}),
        ...(input.stop ? { stop: input.stop } : {}),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      problems.push(`${upstreamLabel(tier)}: ${describeUpstreamFailure(err, tier)}`);
      continue;
    }
    const problem = upstreamResultProblem(input, tier, result);
    if (problem) {
      problems.push(`${upstreamLabel(tier)}: ${problem}`);
      continue;
    }
    return recordUpstreamSuccess(input, result, billUpstream(tier, result));
  }
  return fail(input.jobId, `no tier served the job (${problems.join('; ')})`);
}

/** The charge at the tier's price and the provider's cost at its cost (economy/billing.ts states the rule). Pure. */
export function billUpstream(tier: UpstreamTierInput, r: UpstreamResult): UpstreamBilling {
  const usage = { promptTokens: r.promptTokens, completionTokens: r.completionTokens, answerMs: Date.parse(r.finishedAt) - Date.parse(r.startedAt) };
  return {
    servedBy: r.servedBy,
    billableMs: usage.answerMs,
    chargeMicrocredits: upstreamChargeMicrocredits(tier.price, usage),
    providerCostMicrocredits: upstreamChargeMicrocredits(tier.cost, usage),
  };
}

/** What is wrong with an upstream's answer for this job, or null: it is checked before it is signed, as a runner's is. */
export function upstreamResultProblem(input: JobInput, tier: UpstreamTierInput, r: UpstreamResult): string | null {
  if (r.servedBy !== upstreamLabel(tier)) return `answered as ${JSON.stringify(r.servedBy)}`;
  if ((tier.kind === 'pod') !== (r.peerReceiptCid !== undefined)) return tier.kind === 'pod' ? 'a peer pod answered without its receipt' : 'a provider answered with a peer receipt';
  if (r.model !== input.model) return `answered for model ${r.model}, the job asked for ${input.model}`;
  if (typeof r.text !== 'string') return 'output text is missing';
  if (!Number.isSafeInteger(r.promptTokens) || r.promptTokens < 0) return 'prompt token count is not a non-negative integer';
  if (!Number.isSafeInteger(r.completionTokens) || r.completionTokens < 0 || r.completionTokens > input.maxTokens) {
    return `completion token count ${r.completionTokens} is outside 0..${input.maxTokens}`;
  }
  if (!ISO_UTC_MS.test(r.startedAt) || !ISO_UTC_MS.test(r.finishedAt) || r.finishedAt < r.startedAt) return 'start and finish times are not ISO 8601 UTC in order';
  return null;
}

function describeUpstreamFailure(err: unknown, tier: UpstreamTierInput): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    if (cause.timeoutType === 'HEARTBEAT') return 'the call stopped responding';
    return cause.timeoutType === 'START_TO_CLOSE' ? `no answer within ${tier.timeoutMs} ms` : "no answer before the job's deadline";
  }
  if (cause instanceof ApplicationFailure) return cause.message;
  return rootMessage(err);
}

async function recordUpstreamSuccess(input: JobInput, result: UpstreamResult, billing: UpstreamBilling): Promise<JobOutcome> {
  let receipt: SignedReceipt;
  try {
    receipt = await signJobReceipt(input, result);
  } catch (err) {
    if (err instanceof ReceiptNotSigned) return fail(input.jobId, err.message);
    throw err;
  }
  const queueWaitMs = Math.max(0, Date.parse(result.startedAt) - Date.parse(input.acceptedAt));
  await platform.recordJobSucceeded({ jobId: input.jobId, customerId: input.customerId, result, receipt, queueWaitMs, billing });
  return { status: 'succeeded', receipt, completionTokens: result.completionTokens };
}
