/**
 * The cascade's fall-through in the job workflow, on the real Temporal dev
 * server with stub activities (test/support/workflow-tier.ts): no runner
 * within the warm wait → the upstream tiers in order, each with its own
 * retries; a failing, refusing or stalling tier passes the job on; the
 * deadline bounds the whole; `upstreamFirst` skips the network; the serving
 * tier's price is billed and its name is what is signed.
 */
import { describe, expect, test } from '@jest/globals';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { modelQueue } from '@trd/protocol';
import type { UpstreamBilling } from '../../activities/platform-activities.js';
import { UpstreamErrors, type UpstreamTierInput } from '../../cascade/tiers.js';
import { upstreamChargeMicrocredits } from '../../economy/billing.js';
import { STUB_JOB_LIMITS, answer, freshModel, upstreamAnswer, useWorkflowTier } from '../support/workflow-tier.js';

const tier = useWorkflowTier();

const tokenPrice = { per: 'token', promptMicrocreditsPer1k: 3000, completionMicrocreditsPer1k: 9000 } as const;
const tokenCost = { per: 'token', promptMicrocreditsPer1k: 1000, completionMicrocreditsPer1k: 4000 } as const;
const upstreamTier = (name: string, o: Partial<UpstreamTierInput> = {}): UpstreamTierInput => ({
  name,
  price: tokenPrice,
  cost: tokenCost,
  timeoutMs: 2000,
  maxAttempts: 2,
  retryInitialIntervalMs: 50,
  ...o,
});

describe('fall-through', () => {
  test('no runner within the warm wait: the first tier that answers serves, billed at its price; a failing tier is retried, then passed', async () => {
    const model = freshModel();
    const job = await tier.startJob(
      { model, maxTokens: 6, upstream: [upstreamTier('flaky'), upstreamTier('good')] },
      {
        callUpstream: (call) => {
          if (call.tier === 'flaky') throw ApplicationFailure.retryable('provider flaky answered 429', UpstreamErrors.Unavailable);
          return upstreamAnswer(call, { tokens: 6, promptTokens: 11 });
        },
      },
    );
    const outcome = await job.result();
    expect(outcome).toMatchObject({ status: 'succeeded', completionTokens: 6 });
    // The network first, for the warm wait only (no cold runner): then one activity per tier (its retries are Temporal's).
    const scheduled = await tier.scheduled(job);
    expect(scheduled.map((s) => s.queue)).toEqual([modelQueue(model, 'warm', 'probation'), 'orchestrator', 'orchestrator']);
    expect(job.callsTo('callUpstream').map((c) => c.tier)).toEqual(['flaky', 'flaky', 'good']);
    expect(job.callsTo('callUpstream')[0]).toMatchObject({ model, maxTokens: 6, stream: false });
    const [success] = job.callsTo('recordJobSucceeded');
    const billing = success.billing as UpstreamBilling;
    expect(billing).toMatchObject({
      servedBy: 'provider:good',
      chargeMicrocredits: upstreamChargeMicrocredits(tokenPrice, { promptTokens: 11, completionTokens: 6, answerMs: 0 }),
      providerCostMicrocredits: upstreamChargeMicrocredits(tokenCost, { promptTokens: 11, completionTokens: 6, answerMs: 0 }),
    });
    expect(billing.chargeMicrocredits).toBe(Math.floor((11 * 3000 + 6 * 9000 + 500) / 1000));
    // What is signed is the upstream's answer, naming the tier.
    expect(job.callsTo('signReceipt')[0].result).toMatchObject({ servedBy: 'provider:good', upstreamModel: 'good-model' });
    expect(job.callsTo('recordJobSucceeded')[0].result).not.toHaveProperty('workerId');
  });

  test('a refusal, a full tier and a bad answer pass the job on at once; when no tier serves, the job fails saying why for each', async () => {
    const job = await tier.startJob(
      { upstream: [upstreamTier('refuses'), upstreamTier('busy'), upstreamTier('liar')] },
      {
        callUpstream: (call) => {
          if (call.tier === 'refuses') throw ApplicationFailure.nonRetryable('provider refuses answered 401', UpstreamErrors.Refused);
          if (call.tier === 'busy') throw ApplicationFailure.nonRetryable('provider busy is at its concurrency limit (1)', UpstreamErrors.Busy);
          return upstreamAnswer(call, { tokens: call.maxTokens + 3 });
        },
      },
    );
    const outcome = await job.result();
    expect(outcome.status).toBe('failed');
    const reason = (outcome as { reason: string }).reason;
    expect(reason).toMatch(/^no tier served the job \(network: no runner took the job within its warm and cold waits; /);
    expect(reason).toContain('provider:refuses: provider refuses answered 401');
    expect(reason).toContain('provider:busy: provider busy is at its concurrency limit');
    expect(reason).toContain('provider:liar: completion token count 8 is outside 0..5');
    expect(job.callsTo('callUpstream').map((c) => c.tier)).toEqual(['refuses', 'busy', 'liar']);
    expect(job.callsTo('recordJobFailed')).toHaveLength(1);
    expect(job.callsTo('recordJobSucceeded')).toEqual([]);
  });

  test('a tier that stalls past its timeout passes the job on', async () => {
    const job = await tier.startJob(
      { upstream: [upstreamTier('stalls', { timeoutMs: 800, maxAttempts: 1 }), upstreamTier('good', { price: { per: 'second', creditsPerHour: 3600 }, cost: { per: 'second', creditsPerHour: 1800 } })] },
      {
        callUpstream: async (call) => {
          if (call.tier === 'stalls') {
            // Heartbeats keep it alive: only its own timeout ends it.
            for (;;) {
              Context.current().heartbeat();
              await Context.current().sleep(100);
            }
          }
          return upstreamAnswer(call, { answerMs: 250 });
        },
      },
    );
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    const billing = job.callsTo('recordJobSucceeded')[0].billing as UpstreamBilling;
    // Per second: the network's rule over the answer time (3,600 credits/hour = 1,000 µcr/ms).
    expect(billing).toMatchObject({ servedBy: 'provider:good', billableMs: 250, chargeMicrocredits: 250_000, providerCostMicrocredits: 125_000 });
    const upstreamCalls = (await tier.scheduled(job)).filter((s) => s.queue === 'orchestrator');
    expect(upstreamCalls).toHaveLength(2);
  });

  test('upstreamFirst sends the job straight up: no runner is asked, even a free one', async () => {
    const model = freshModel();
    await tier.runner(modelQueue(model, 'warm', 'probation'), 'idle', async (task) => answer(task, 'idle'));
    const job = await tier.startJob({ model, upstream: [upstreamTier('direct')], upstreamFirst: true, streamToken: 'trd_st_x' }, { callUpstream: (call) => upstreamAnswer(call) });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual(['orchestrator']);
    expect(job.callsTo('callUpstream')[0]).toMatchObject({ tier: 'direct', stream: true });
  });

  test('a free runner serves as before: the tiers are not asked', async () => {
    const model = freshModel();
    await tier.runner(modelQueue(model, 'warm', 'probation'), 'warm-1', async (task) => answer(task, 'warm-1'));
    const job = await tier.startJob({ model, upstream: [upstreamTier('unused')] }, { callUpstream: (call) => upstreamAnswer(call) });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect(job.callsTo('callUpstream')).toEqual([]);
    expect(job.callsTo('recordJobSucceeded')[0].billing).toMatchObject({ workerId: 'warm-1' });
  });

  test('the deadline bounds the whole: a tier slower than what is left of it fails the job at the deadline', async () => {
    const deadlineMs = STUB_JOB_LIMITS.warmWaitMs + 1500;
    const job = await tier.startJob(
      { upstream: [upstreamTier('slow', { timeoutMs: 60_000, maxAttempts: 1 }), upstreamTier('never-reached')], limits: { deadlineMs } },
      {
        callUpstream: async (call) => {
          for (;;) {
            Context.current().heartbeat();
            await Context.current().sleep(100);
          }
        },
      },
    );
    const outcome = await job.result();
    expect(outcome.status).toBe('failed');
    const scheduled = (await tier.scheduled(job)).filter((s) => s.queue === 'orchestrator');
    expect(scheduled).toHaveLength(1);
    // The call was bounded by what was left of the deadline, not by the tier's minute.
    expect(scheduled[0].scheduleToCloseMs).toBeLessThanOrEqual(deadlineMs);
    expect((outcome as { reason: string }).reason).toMatch(/provider:slow: .*; the deadline passed\)$/);
  });
});
