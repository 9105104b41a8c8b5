/**
 * The job workflow's routing, on the real Temporal dev server with stub
 * activities (test/support/workflow-tier.ts): warm → cold → parked, moves to
 * a faster runner, runner faults and bad results, the deadline and
 * cancellation. The end-to-end tests in test/dispatch keep one path each
 * with real runners; the branches of the routing logic are here, seconds each.
 */
import { describe, expect, test } from '@jest/globals';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelQueue, runnerQueue, type InferenceResult, type InferenceTask } from '@trd/protocol';
import type { JobBilling } from '../../activities/platform-activities.js';
import { chargeMicrocredits } from '../../economy/billing.js';
import { gatewaySettings } from '../../gateway/settings.js';
import { summarizeTraces, traceJobs } from '../support/dispatch-trace.js';
import { STUB_JOB_LIMITS, answer, freshModel, useWorkflowTier, type StubJob } from '../support/workflow-tier.js';

const tier = useWorkflowTier();

const warmQ = (model: string) => modelQueue(model, 'warm', 'probation');
const coldQ = (model: string) => modelQueue(model, 'cold', 'probation');

/** Resolves when the stub runner has started on a task; `release` ends a runner that holds its task. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** A runner that generates until cancelled, heartbeating; on cancellation it reports `partial` tokens, as trd-worker does. */
function generatingUntilCancelled(workerId: string, started: () => void, opts: { partialTokens?: number; beyondMax?: boolean } = {}) {
  return async (task: InferenceTask): Promise<InferenceResult> => {
    const ctx = Context.current();
    started();
    for (;;) {
      ctx.heartbeat({ workerId, completionTokens: 1, phase: 'generating' });
      try {
        await ctx.sleep(100);
      } catch (err) {
        if (!(err instanceof CancelledFailure)) throw err;
        const tokens = opts.beyondMax ? task.maxTokens + 1 : (opts.partialTokens ?? 2);
        throw new CancelledFailure('generation cancelled', [{ ...answer(task, workerId, { tokens }), finishReason: 'cancelled' }]);
      }
    }
  };
}

/**
 * With TRD_RECORD_HISTORIES=1, the history of `job` becomes a replay fixture
 * of the current version (test/workflows/replay.test.ts replays it). Stub
 * activities write plain payloads, which the replay test accepts as it does
 * the fixtures from before sealing.
 */
async function recordFixture(job: StubJob, name: string): Promise<void> {
  if (!process.env.TRD_RECORD_HISTORIES) return;
  const path = fileURLToPath(new URL(`../fixtures/histories/${name}.json`, import.meta.url));
  writeFileSync(path, `${historyToJSON(await job.handle.fetchHistory())}\n`);
}

async function failureOf(job: StubJob): Promise<string> {
  const outcome = await job.result();
  expect(outcome.status).toBe('failed');
  return (outcome as { reason: string }).reason;
}

describe('warm, cold, parked', () => {
  test('a free warm runner takes the job at once; it is billed for compute at the price it was accepted at', async () => {
    const model = freshModel();
    await tier.runner(warmQ(model), 'warm-1', async (task) => answer(task, 'warm-1', { computeMs: 40 }));
    const job = await tier.startJob({ model, maxTokens: 4, creditsPerHour: 360 }, { hasColdRunners: () => true });
    const outcome = await job.result();
    expect(outcome).toMatchObject({ status: 'succeeded', completionTokens: 4, receipt: { envelope: { job_id: job.jobId } } });
    expect((await tier.scheduled(job)).map((s) => [s.queue, s.scheduleToStartMs === s.scheduleToCloseMs ? 'deadline' : s.scheduleToStartMs])).toEqual([[warmQ(model), 'deadline']]);
    const [success] = job.callsTo('recordJobSucceeded');
    expect(success.billing).toEqual({ workerId: 'warm-1', billableMs: 40, chargeMicrocredits: chargeMicrocredits(40, 360) });
    expect(job.callsTo('hasColdRunners')).toEqual([]);
    expect(job.callsTo('signReceipt')).toHaveLength(1);
  });

  test('a job that requires a tier is scheduled on that tier’s queues only', async () => {
    const model = freshModel();
    await tier.runner(modelQueue(model, 'warm', 'trusted'), 'veteran', async (task) => answer(task, 'veteran'));
    const job = await tier.startJob({ model, minTier: 'trusted' });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([`model.${model}.warm.trusted`]);
  });

  test('nobody warm within the warm wait and a cold runner exists: the job goes to the cold queue', async () => {
    const model = freshModel();
    await tier.runner(coldQ(model), 'cold-1', async (task) => answer(task, 'cold-1'));
    const job = await tier.startJob({ model }, { hasColdRunners: () => true });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    const [warm, cold] = await tier.scheduled(job);
    expect([warm.queue, cold.queue]).toEqual([warmQ(model), coldQ(model)]);
    expect(cold.at - warm.at).toBeGreaterThanOrEqual(STUB_JOB_LIMITS.warmWaitMs);
    expect(job.callsTo('hasColdRunners')).toEqual([{ model, minTier: 'probation', unstartedJobId: job.jobId }]);
    // The warm attempt nobody took was cancelled, never timed out: it moved because a cold runner exists.
    const history = await job.handle.fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskCanceledEventAttributes)).toHaveLength(1);
    expect(history.events!.filter((e) => e.activityTaskTimedOutEventAttributes)).toHaveLength(0);
    await recordFixture(job, 'inference-job-kept-place-cold');
    expect(job.callsTo('recordJobSucceeded')[0].billing).toMatchObject({ workerId: 'cold-1' });
  });

  /** A job nobody takes until it has `attempts` attempts scheduled and its cold check, then a late warm runner: each attempt's queue and bound to start. */
  async function servedLate(model: string, hasColdRunners: boolean, attempts: number) {
    const job = await tier.startJob({ model }, { hasColdRunners: () => hasColdRunners });
    while ((await tier.scheduled(job)).length < attempts || job.callsTo('hasColdRunners').length === 0) await new Promise((r) => setTimeout(r, 50));
    await tier.runner(warmQ(model), 'late', async (task) => answer(task, 'late'));
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    // Parked: Temporal bounds the wait to start by the attempt's whole time left, the deadline.
    return { job, routes: (await tier.scheduled(job)).map((s) => [s.queue, s.scheduleToStartMs === s.scheduleToCloseMs ? 'deadline' : s.scheduleToStartMs]) };
  }

  test('no cold runner: past the warm wait the job stays scheduled on the warm queue (its place kept) until the next warm runner takes it', async () => {
    const model = freshModel();
    const { job, routes } = await servedLate(model, false, 1);
    expect(routes).toEqual([[warmQ(model), 'deadline']]);
    await recordFixture(job, 'inference-job-kept-place');
  });

  test('not taken on the cold queue either: the job parks on the warm queue', async () => {
    const model = freshModel();
    expect((await servedLate(model, true, 3)).routes).toEqual([
      [warmQ(model), 'deadline'],
      [coldQ(model), STUB_JOB_LIMITS.warmWaitMs],
      [warmQ(model), 'deadline'],
    ]);
  });

  test('a job a warm runner has taken is never moved by the warm wait’s cold check, even with cold runners about', async () => {
    const model = freshModel();
    await tier.runner(coldQ(model), 'cold-1', async (task) => answer(task, 'cold-1'));
    await tier.runner(warmQ(model), 'warm-1', async (task) => {
      // Still generating (and heartbeating) when the warm wait ends.
      const ctx = Context.current();
      for (let i = 0; i < 15; i++) {
        ctx.heartbeat({ workerId: 'warm-1', completionTokens: 1, phase: 'generating' });
        await ctx.sleep(STUB_JOB_LIMITS.warmWaitMs / 5);
      }
      return answer(task, 'warm-1');
    });
    const job = await tier.startJob({ model }, { hasColdRunners: () => true });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect(job.callsTo('hasColdRunners')).toEqual([{ model, minTier: 'probation', unstartedJobId: job.jobId }]);
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model)]);
    const history = await job.handle.fetchHistory();
    expect(history.events!.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(false);
    expect(job.callsTo('recordJobSucceeded')[0].billing).toMatchObject({ workerId: 'warm-1' });
  });

  test('when the cold-runner question fails, the job keeps its place on the warm queue (no advice, no move)', async () => {
    const model = freshModel();
    await tier.runner(coldQ(model), 'cold-1', async (task) => answer(task, 'cold-1'));
    const job = await tier.startJob(
      { model },
      {
        hasColdRunners: () => {
          throw new Error('Temporal is unreachable');
        },
      },
    );
    while (job.callsTo('hasColdRunners').length < 2) await new Promise((r) => setTimeout(r, 50));
    await tier.runner(warmQ(model), 'warm-1', async (task) => answer(task, 'warm-1'));
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model)]);
    expect(job.callsTo('recordJobSucceeded')[0].billing).toMatchObject({ workerId: 'warm-1' });
  });

  test('a parked job moves to the cold queue when a free cold runner shows up', async () => {
    const model = freshModel();
    await tier.runner(coldQ(model), 'cold-1', async (task) => answer(task, 'cold-1'));
    const job = await tier.startJob({ model }, { hasColdRunners: () => false, checkProgress: (c) => (c.parked ? { action: 'go-cold' } : { action: 'wait', recheckAfterMs: 200 }) });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model), coldQ(model)]);
    expect(job.callsTo('checkProgress').some((c) => c.parked)).toBe(true);
    expect(job.callsTo('recordJobSucceeded')[0].billing).toMatchObject({ workerId: 'cold-1' });
  });
});

describe('a burst', () => {
  test('with the production warm wait, each job of a burst is scheduled once: none loses its queue place to the warm wait', async () => {
    const model = freshModel();
    const JOBS = 40;
    const { warmWaitMs } = gatewaySettings({}).jobLimits;
    // Two jobs at a time (one worker per queue in a process) at 200 ms a job: the last jobs wait ~4 s, far past the
    // warm wait. The deadline is long: on a loaded machine the same burst has taken 30 s.
    await tier.runner(
      warmQ(model),
      'two-slots',
      async (task) => {
        await new Promise((r) => setTimeout(r, 200));
        return answer(task, 'two-slots');
      },
      { slots: 2 },
    );
    const jobs: StubJob[] = [];
    for (let i = 0; i < JOBS; i++) jobs.push(await tier.startJob({ model, limits: { warmWaitMs, deadlineMs: 5 * 60_000 } }));
    const outcomes = await Promise.all(jobs.map((j) => j.result()));
    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    const summary = summarizeTraces(await traceJobs(tier.client, jobs.map((j) => j.jobId)));
    // Most jobs waited past the warm wait (else this burst would prove nothing), and none was scheduled again for it.
    expect(summary.waitP50Ms).toBeGreaterThan(warmWaitMs);
    expect(summary.rescheduled).toBe(0);
    // Not asserted: start order against acceptance order. Under load the orchestrator runs the jobs' first workflow
    // tasks (which schedule them) seconds late and in its own order, and Temporal's matching hands a new task to a
    // waiting poller ahead of a young backlog; 13 and 33 places of 40 were measured here with no job re-queued.
  }, 120_000);
});

describe('moves to a faster runner', () => {
  test('a job running long is cancelled on its runner and goes by name to the faster one, which alone earns', async () => {
    const model = freshModel();
    const slowStarted = latch();
    let slowCancelled = false;
    let running = false;
    await tier.runner(runnerQueue('fast'), 'fast', async (task) => answer(task, 'fast'));
    await tier.runner(warmQ(model), 'slow', async (task) => {
      try {
        return await generatingUntilCancelled('slow', () => ((running = true), slowStarted.open()))(task);
      } finally {
        slowCancelled = Context.current().cancellationSignal.aborted;
      }
    });
    const job = await tier.startJob({ model }, { checkProgress: () => (running ? { action: 'move', from: 'slow', to: 'fast' } : { action: 'wait', recheckAfterMs: 100 }) });
    await slowStarted.opened;
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect(slowCancelled).toBe(true);
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model), runnerQueue('fast')]);
    const history = await job.handle.fetchHistory();
    expect(history.events!.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    expect(history.events!.some((e) => e.activityTaskCanceledEventAttributes)).toBe(true);
    expect(job.callsTo('recordAttempt')).toEqual([
      { id: `${job.jobId}:1`, jobId: job.jobId, workerId: 'slow', outcome: 'moved_to_faster_runner', detail: 'running past its expected duration; moved to fast' },
    ]);
    expect(job.callsTo('recordJobSucceeded').map((s) => (s.billing as JobBilling | undefined)?.workerId)).toEqual(['fast']);
  });

  test('a job moves at most twice, then stays where it is', async () => {
    const model = freshModel();
    // Each runner is "too slow" once it runs: a moves to b, b to c, and c would move too if it were allowed.
    const next: Record<string, string> = { a: 'b', b: 'c', c: 'd' };
    let running: string | null = null;
    let looksOnC = 0;
    const started = (id: string) => () => (running = id);
    await tier.runner(runnerQueue('b'), 'b', generatingUntilCancelled('b', started('b')));
    await tier.runner(runnerQueue('c'), 'c', async (task) => {
      started('c')();
      // Long enough for several progress looks, had the job any moves left.
      await Context.current().sleep(STUB_JOB_LIMITS.progressCheckMs * 4);
      return answer(task, 'c');
    });
    await tier.runner(warmQ(model), 'a', generatingUntilCancelled('a', started('a')));
    const job = await tier.startJob(
      { model },
      {
        checkProgress: () => {
          if (running === 'c') looksOnC++;
          if (!running) return { action: 'wait', recheckAfterMs: 100 };
          const from = running;
          running = null;
          return { action: 'move', from, to: next[from] };
        },
      },
    );
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model), runnerQueue('b'), runnerQueue('c')]);
    expect(job.callsTo('recordAttempt').map((a) => [a.workerId, a.outcome])).toEqual([
      ['a', 'moved_to_faster_runner'],
      ['b', 'moved_to_faster_runner'],
    ]);
    expect(looksOnC).toBe(0);
    expect(job.callsTo('recordJobSucceeded').map((s) => (s.billing as JobBilling | undefined)?.workerId)).toEqual(['c']);
  });
});

describe('runner faults', () => {
  test('a bad result counts against its runner; the retry goes by name to another free runner, with a new dispatch', async () => {
    const model = freshModel();
    const dispatched: Record<string, number[]> = { liar: [], honest: [] };
    await tier.runner(runnerQueue('honest'), 'honest', async (task) => {
      dispatched.honest.push(task.dispatch!.claims.attempt);
      return answer(task, 'honest');
    });
    await tier.runner(warmQ(model), 'liar', async (task) => {
      dispatched.liar.push(task.dispatch!.claims.attempt);
      return { ...answer(task, 'liar'), completionTokens: task.maxTokens + 1 };
    });
    const job = await tier.startJob({ model, maxTokens: 5 }, { pickRunner: (exclude) => (exclude.includes('liar') ? 'honest' : null) });
    expect(await job.result()).toMatchObject({ status: 'succeeded', completionTokens: 5 });
    expect(dispatched).toEqual({ liar: [1], honest: [2] });
    expect(job.callsTo('recordAttempt')).toEqual([
      { id: `${job.jobId}:1`, jobId: job.jobId, workerId: 'liar', outcome: 'invalid_result', detail: 'completion token count 6 is outside 0..5' },
    ]);
    expect(job.callsTo('pickRunner')).toEqual([{ model, minTier: 'probation', exclude: ['liar'] }]);
    expect(job.callsTo('recordJobSucceeded').map((s) => (s.billing as JobBilling | undefined)?.workerId)).toEqual(['honest']);
  });

  test('bad results on every attempt fail the job, backing off between tries, and nothing is charged', async () => {
    const model = freshModel();
    await tier.runner(warmQ(model), 'liar', async (task) => ({ ...answer(task, 'liar'), model: 'another-model' }));
    const job = await tier.startJob({ model, maxTokens: 5 });
    const reason = await failureOf(job);
    expect(reason).toBe(`every attempt failed; the last: runner liar returned an invalid result: runner served model another-model, the job asked for ${model}`);
    expect(job.callsTo('recordAttempt').map((a) => a.outcome)).toEqual(['invalid_result', 'invalid_result', 'invalid_result']);
    const at = (await tier.scheduled(job)).map((s) => s.at);
    // Backoff after the first and second faults: 100 ms, then 200 ms.
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(STUB_JOB_LIMITS.retryInitialIntervalMs);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(STUB_JOB_LIMITS.retryInitialIntervalMs * 2);
    expect(job.callsTo('recordJobFailed')).toEqual([{ jobId: job.jobId, reason }]);
    expect(job.callsTo('recordJobSucceeded')).toEqual([]);
  });

  test('a runner that stops heartbeating loses the job within the heartbeat timeout; Temporal retries it on the same queue', async () => {
    const model = freshModel();
    const hung = latch();
    let tasks = 0;
    await tier.runner(warmQ(model), 'doomed', async (task) => {
      const ctx = Context.current();
      if (++tasks > 1) return answer(task, 'doomed');
      ctx.heartbeat({ workerId: 'doomed', completionTokens: 1, phase: 'generating' });
      hung.open();
      // Alive but silent, as a dead runner looks to Temporal; bounded so the test's worker can stop.
      await new Promise((r) => setTimeout(r, STUB_JOB_LIMITS.heartbeatTimeoutMs * 4));
      throw new Error('too late');
    });
    const job = await tier.startJob({ model });
    await hung.opened;
    const hungAt = Date.now();
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect(Date.now() - hungAt).toBeGreaterThanOrEqual(STUB_JOB_LIMITS.heartbeatTimeoutMs - 100);
    const history = await job.handle.fetchHistory();
    const timedOut = history.events!.filter((e) => e.activityTaskTimedOutEventAttributes);
    const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt!);
    // The lost attempt is Temporal's retry on the same schedule (the rescue is attempt 2): the job is never scheduled anew.
    expect(started).toEqual([2]);
    expect(timedOut).toHaveLength(0);
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model)]);
    expect(job.callsTo('recordAttempt')).toEqual([]);
  });

  test('a runner picked by name that fails sends the job back to the shared queues', async () => {
    const model = freshModel();
    let calls = 0;
    await tier.runner(runnerQueue('flaky'), 'flaky', async () => {
      throw ApplicationFailure.retryable('out of memory', 'RunnerBusy');
    });
    await tier.runner(warmQ(model), 'sometimes', async (task) => (++calls === 1 ? { ...answer(task, 'sometimes'), promptTokens: 0 } : answer(task, 'sometimes')));
    const job = await tier.startJob({ model }, { pickRunner: () => 'flaky' });
    expect(await job.result()).toMatchObject({ status: 'succeeded' });
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model), runnerQueue('flaky'), warmQ(model)]);
    expect(job.callsTo('recordJobSucceeded').map((s) => (s.billing as JobBilling | undefined)?.workerId)).toEqual(['sometimes']);
  });

  test('a prompt too long for the model is the customer’s fault: the job fails at once with the runner’s reason', async () => {
    const model = freshModel();
    await tier.runner(warmQ(model), 'strict', async () => {
      throw ApplicationFailure.nonRetryable('the prompt is 9000 tokens; the model reads 8192', 'PromptTooLong');
    });
    const job = await tier.startJob({ model });
    expect(await failureOf(job)).toBe('PromptTooLong: the prompt is 9000 tokens; the model reads 8192');
    expect((await tier.scheduled(job)).map((s) => s.queue)).toEqual([warmQ(model)]);
    expect(job.callsTo('recordAttempt')).toEqual([]);
  });
});

describe('deadline', () => {
  test('a job nobody takes fails at its deadline, with nothing charged', async () => {
    const model = freshModel();
    const job = await tier.startJob({ model, limits: { deadlineMs: 1500 } }, { hasColdRunners: () => false });
    expect(await failureOf(job)).toBe('no runner took the job before its deadline');
    expect(Date.now() - Date.parse(job.input.acceptedAt)).toBeGreaterThanOrEqual(1500);
    expect(job.callsTo('recordJobFailed')).toEqual([{ jobId: job.jobId, reason: 'no runner took the job before its deadline' }]);
    expect(job.callsTo('recordJobSucceeded')).toEqual([]);
  });

  test('a job still generating at its deadline fails, and what it generated is not charged', async () => {
    const model = freshModel();
    const started = latch();
    await tier.runner(warmQ(model), 'too-slow', generatingUntilCancelled('too-slow', started.open));
    const job = await tier.startJob({ model, limits: { deadlineMs: 1500 } });
    expect(await failureOf(job)).toBe('no runner completed the job before its deadline');
    expect(job.callsTo('recordJobSucceeded')).toEqual([]);
    expect(job.callsTo('recordJobCancelled')).toEqual([]);
  });
});

describe('cancellation', () => {
  test('a running job cancelled: the runner’s report of what it generated is billed, and only that', async () => {
    const model = freshModel();
    const started = latch();
    await tier.runner(warmQ(model), 'patient', generatingUntilCancelled('patient', started.open, { partialTokens: 7 }));
    const job = await tier.startJob({ model, maxTokens: 50 });
    await started.opened;
    await job.handle.cancel();
    expect(await job.result()).toEqual({ status: 'cancelled', completionTokens: 7 });
    const [cancelled] = job.callsTo('recordJobCancelled');
    expect(cancelled.partial).toMatchObject({ workerId: 'patient', completionTokens: 7, finishReason: 'cancelled' });
    expect(cancelled.billing).toMatchObject({ workerId: 'patient', billableMs: 10, chargeMicrocredits: chargeMicrocredits(10, 36) });
    expect(job.callsTo('recordJobSucceeded')).toEqual([]);
  });

  test('a cancelled runner’s report that cannot be true is not billed', async () => {
    const model = freshModel();
    const started = latch();
    await tier.runner(warmQ(model), 'boastful', generatingUntilCancelled('boastful', started.open, { beyondMax: true }));
    const job = await tier.startJob({ model, maxTokens: 5 });
    await started.opened;
    await job.handle.cancel();
    expect(await job.result()).toEqual({ status: 'cancelled', completionTokens: 0 });
    expect(job.callsTo('recordJobCancelled')).toEqual([{ jobId: job.jobId, customerId: 'cus_stub', partial: null, billing: null }]);
  });

  test('a queued job cancelled never runs and costs nothing', async () => {
    const model = freshModel();
    const job = await tier.startJob({ model }, { hasColdRunners: () => false });
    while (job.callsTo('hasColdRunners').length === 0) await new Promise((r) => setTimeout(r, 50));
    await job.handle.cancel();
    expect(await job.result()).toEqual({ status: 'cancelled', completionTokens: 0 });
    expect(job.callsTo('recordJobCancelled')).toEqual([{ jobId: job.jobId, customerId: 'cus_stub', partial: null, billing: null }]);
  });
});

test('a job of a session joins the session’s receipt chain instead of being signed alone', async () => {
    const model = freshModel();
  await tier.runner(warmQ(model), 'warm-1', async (task) => answer(task, 'warm-1'));
  const job = await tier.startJob({ model, sessionId: 'ses_stub' });
  expect(await job.result()).toMatchObject({ status: 'succeeded' });
  expect(job.callsTo('appendToChain').map((r) => r.sessionId)).toEqual(['ses_stub']);
  expect(job.callsTo('signReceipt')).toEqual([]);
});

