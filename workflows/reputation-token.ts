/**
 * The reputation soulbound token's part of each reputation sweep (since the
 * `reputation-token` patch): transactions an earlier sweep left open are
 * settled first, then cheaters' tokens are burned, newly Verified runners'
 * tokens minted, and the scores, tiers and receipt heads that changed go out
 * in one updateBatch. Each transaction is signed once and stored before it
 * is broadcast (activities/chain-transactions.ts); one that reverted or was
 * dropped is followed by a fresh one (the chain is checked again before it
 * is signed), up to `maxAttempts`. A step still waiting past its budget (the
 * node down, fees above the cap, no funds) gives up for this sweep, whose
 * reputation work is done anyway; the next sweep takes it up where it was.
 */
import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReputationTokenActivities, TokenStep } from '../activities/reputation-token-activities.js';
import type { TokenLimits } from '../platform/workflow-api.js';
import { rootMessage } from './failures.js';

export const REPUTATION_TOKEN_PATCH = 'reputation-token';

/** For schedules written before the token's bounds were part of the sweep's input. */
export const DEFAULT_TOKEN_LIMITS: TokenLimits = { pollMs: 2000, stepTimeoutMs: 30_000, budgetMs: 10 * 60_000, maxAttempts: 3 };

export interface TokenSummary {
  minted: number;
  slashed: number;
  /** Runners whose values one updateBatch wrote. */
  updated: number;
  /** What did not go out this sweep, and why. */
  problems: string[];
}

export async function anchorReputation(limits: TokenLimits = DEFAULT_TOKEN_LIMITS): Promise<TokenSummary | null> {
  const plan = proxyActivities<ReputationTokenActivities>({ startToCloseTimeout: limits.stepTimeoutMs, retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5 } });
  // Signing waits (fees, funds, the node) back off; confirmations are looked for every pollMs. Neither waits past the budget.
  const sign = proxyActivities<ReputationTokenActivities>({
    startToCloseTimeout: limits.stepTimeoutMs,
    scheduleToCloseTimeout: limits.budgetMs,
    retry: { initialInterval: limits.pollMs, backoffCoefficient: 2, maximumInterval: Math.max(limits.pollMs, 60_000) },
  });
  const confirm = proxyActivities<ReputationTokenActivities>({
    startToCloseTimeout: limits.stepTimeoutMs,
    scheduleToCloseTimeout: limits.budgetMs,
    retry: { initialInterval: limits.pollMs, backoffCoefficient: 1 },
  });
  const todo = await plan.planReputationToken();
  if (!todo.configured) return null;
  const summary: TokenSummary = { minted: 0, slashed: 0, updated: 0, problems: [] };
  const { runId } = workflowInfo();

  /** Broadcast and confirmed: true; reverted or dropped: the reason. */
  const settle = async (key: string): Promise<true | string> => {
    await sign.broadcastChainTransaction({ key });
    const final = await confirm.confirmChainTransaction({ key });
    return final.ok || final.reason;
  };
  /** One token step to its end: sent and confirmed (true), nothing to send (false), or given up (a problem noted). */
  const send = async (what: string, signStep: (key: string) => Promise<TokenStep>): Promise<boolean> => {
    for (let attempt = 1; attempt <= limits.maxAttempts; attempt++) {
      try {
        const step = await signStep(`${what}:${runId}:${attempt}`);
        if (step.key === null) return false;
        const outcome = await settle(step.key);
        if (outcome === true) return true;
        summary.problems.push(`${what} attempt ${attempt}: ${outcome}`);
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        summary.problems.push(`${what}: ${rootMessage(err)} (the next sweep tries again)`);
        return false;
      }
    }
    return false;
  };

  for (const key of todo.open) {
    try {
      const outcome = await settle(key);
      if (outcome !== true) summary.problems.push(`${key}: ${outcome}`);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      // Still open: nothing new can be signed by the wallet before it is final.
      summary.problems.push(`${key}: ${rootMessage(err)} (the next sweep tries again)`);
      return summary;
    }
  }
  for (const runnerId of todo.slash) if (await send(`reputation-slash:${runnerId}`, (key) => sign.signTokenSlash({ runnerId, key }))) summary.slashed++;
  for (const runnerId of todo.mint) if (await send(`reputation-mint:${runnerId}`, (key) => sign.signTokenMint({ runnerId, key }))) summary.minted++;
  let batch = 0;
  await send('reputation-update', async (key) => {
    const step = await sign.signReputationUpdate({ key });
    batch = step.runners;
    return step;
  }).then((sent) => {
    if (sent) summary.updated = batch;
  });
  return summary;
}
