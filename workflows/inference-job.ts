/**
 * One customer job: route it to a runner, move it when its runner is too
 * slow, check and sign what comes back, bill it and record the outcome.
 * Deterministic: every side effect is an activity, and time comes from the
 * workflow clock.
 *
 * Routing (queue names in protocol/queues.ts): the job is scheduled on the
 * model's warm queue, where a free runner with the model loaded takes it at
 * once. It stays scheduled there until its deadline, so it keeps its place in
 * the queue: every runner that loaded the model polls it, including the cold
 * ones once they have loaded it. `warmWaitMs` after scheduling, a job nobody
 * took yet moves to the cold queue if some runner has the model only on disk;
 * there it waits as long, and if no such runner takes it, back on the warm
 * queue until its deadline (parked). A waiting job also moves to the cold
 * queue when a free runner with the model on disk shows up.
 * (Histories before `keep-queue-place` gave the warm attempt a
 * schedule-to-start timeout and scheduled the job again at the back of the
 * queue: a burst scrambled the order.)
 * A runner that dies or stalls loses the job through the heartbeat timeout
 * and Temporal retries it on the same queue; a runner that returns a bad
 * result loses it too, and the retry is steered to another runner when one is
 * free. While a job runs, its progress is checked against its runner's
 * measured speed; a job running long moves to a faster free runner and the
 * slow attempt is cancelled.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  TimeoutFailure,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  sleep,
} from '@temporalio/workflow';
import type { InferenceResult, InferenceTask, RunnerActivities } from '@trd/protocol';
import { InferenceErrors, inferenceResultProblem } from '@trd/protocol/inference';
import { modelQueue, runnerQueue } from '@trd/protocol/queues';
import type { JobBilling } from '../activities/platform-activities.js';
import { billableMs, chargeMicrocredits } from '../economy/billing.js';
import type { UpstreamTierInput } from '../cascade/tiers.js';
import { CASCADE, serveUpstream } from './cascade.js';
import { describeInferenceFailure } from './failures.js';
import { inferenceJobV1 } from './inference-job-v1.js';
import { fail, recordSuccess } from './outcomes.js';
import { dispatch, platform, receipts } from './platform.js';
import { inferenceTaskFor, type JobInput, type JobOutcome } from '../platform/workflow-api.js';

/** Declared with the other workflows' inputs (platform/workflow-api.ts); named here too for the code that started from this file. */
export type { JobInput, JobLimits, JobOutcome } from '../platform/workflow-api.js';

/** Marks histories that route warm, then cold; older ones replay through inferenceJobV1. */
export const DISPATCH_V2 = 'dispatch-v2';

/** Marks histories whose tasks carry a signed dispatch envelope (runners refuse unsigned tasks). */
export const SIGNED_DISPATCH = 'signed-dispatch';

/**
 * Marks histories whose warm attempt stays scheduled past the warm wait: a
 * workflow timer and the cold-runner check decide a move to the cold queue,
 * and the attempt is cancelled only when the job moves. Before it, the warm
 * attempt timed out schedule-to-start and the job was scheduled again at the
 * back of the same queue.
 */
export const KEEP_QUEUE_PLACE = 'keep-queue-place';

/** A job moves to a faster runner at most this many times. */
const MAX_MOVES = 2;

interface Route {
  kind: 'warm' | 'cold' | 'parked' | 'direct';
  queue: string;
  /** Past this, nobody took it here: try the next route. */
  scheduleToStartMs?: number;
  /** This long after scheduling, if nobody took it, it may move to a cold runner; otherwise it stays scheduled. */
  coldCheckMs?: number;
}

type AttemptEnd =
  | { kind: 'result'; result: InferenceResult; observedMs: number }
  | { kind: 'not-taken' }
  | { kind: 'moved'; from: string; to: string }
  | { kind: 'go-cold' }
  | { kind: 'cancelled'; partial: InferenceResult | null; observedMs: number }
  | { kind: 'failed'; err: unknown };

export async function inferenceJob(input: JobInput): Promise<JobOutcome> {
  if (!patched(DISPATCH_V2)) return inferenceJobV1(input);
  try {
    return await dispatchJob(input);
  } catch (err) {
    // Cancelled by the customer between attempts: nothing was generated.
    if (isCancellation(err)) return CancellationScope.nonCancellable(() => settleCancelled(input, null, 0));
    throw err;
  }
}

async function dispatchJob(input: JobInput): Promise<JobOutcome> {
  const limits = input.limits;
  const deadline = Date.parse(input.acceptedAt) + limits.deadlineMs;
  const task = inferenceTaskFor(input);
  const keepPlace = patched(KEEP_QUEUE_PLACE);
  // A job with upstream tiers goes to them instead of parking when no runner took it within its warm and cold waits.
  const cascade = input.upstream?.length ? patched(CASCADE) : false;
  const warmQueue = modelQueue(input.model, 'warm', input.minTier);
  // A cascade job leaves the warm queue after the warm wait (it falls through, it never parks), so it has no place to keep.
  const warm = (): Route =>
    keepPlace && !cascade ? { kind: 'warm', queue: warmQueue, coldCheckMs: limits.warmWaitMs } : { kind: 'warm', queue: warmQueue, scheduleToStartMs: limits.warmWaitMs };
  const cold = (): Route => ({ kind: 'cold', queue: modelQueue(input.model, 'cold', input.minTier), scheduleToStartMs: limits.warmWaitMs });
  const parked = (): Route => ({ kind: 'parked', queue: warmQueue });
  const direct = (workerId: string): Route => ({ kind: 'direct', queue: runnerQueue(workerId), scheduleToStartMs: limits.warmWaitMs });
  if (cascade && input.upstreamFirst) return serveUpstream(input, deadline, null);
  const fallThrough = () => serveUpstream(input, deadline, 'no runner took the job within its warm and cold waits');

  let route = warm();
  let attemptSeq = 0;
  let runnerFaults = 0;
  let moves = 0;
  let lastFault = '';
  for (;;) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) return fail(input.jobId, `no runner completed the job before its deadline${lastFault ? ` (last problem: ${lastFault})` : ''}`);
    const signed = patched(SIGNED_DISPATCH)
      ? {
          ...task,
          dispatch: await receipts.signDispatch({
            jobId: input.jobId,
            model: input.model,
            promptSha256: input.promptSha256,
            attempt: attemptSeq + 1,
            expiresAt: new Date(deadline).toISOString(),
          }),
        }
      : task;
    const end = await runAttempt(input, signed, route, remainingMs, moves < MAX_MOVES);
    attemptSeq++;
    switch (end.kind) {
      case 'result': {
        const problem = inferenceResultProblem(task, end.result);
        if (!problem) return succeed(input, end.result, end.observedMs);
        const workerId = typeof end.result.workerId === 'string' && end.result.workerId ? end.result.workerId : 'unidentified';
        lastFault = `runner ${workerId} returned an invalid result: ${problem}`;
        await platform.recordAttempt({ id: `${input.jobId}:${attemptSeq}`, jobId: input.jobId, workerId, outcome: 'invalid_result', detail: problem });
        if (++runnerFaults >= limits.maxAttempts) return fail(input.jobId, `every attempt failed; the last: ${lastFault}`);
        route = await routeAway(input, [workerId], runnerFaults, direct, warm);
        break;
      }
      case 'not-taken':
        if (route.kind === 'warm') {
          const coldRunners = await dispatch.hasColdRunners({ model: input.model, minTier: input.minTier }).catch((err) => {
            if (isCancellation(err)) throw err;
            return true;
          });
          if (!coldRunners && cascade) return fallThrough();
          route = coldRunners ? cold() : parked();
        } else {
          if (route.kind === 'cold' && cascade) return fallThrough();
          route = route.kind === 'cold' ? parked() : warm();
        }
        break;
      case 'go-cold':
        route = cold();
        break;
      case 'moved':
        moves++;
        await platform.recordAttempt({
          id: `${input.jobId}:${attemptSeq}`,
          jobId: input.jobId,
          workerId: end.from,
          outcome: 'moved_to_faster_runner',
          detail: `running past its expected duration; moved to ${end.to}`,
        });
        route = direct(end.to);
        break;
      case 'cancelled':
        return CancellationScope.nonCancellable(() => settleCancelled(input, end.partial, end.observedMs));
      case 'failed': {
        const reason = describeInferenceFailure(end.err);
        // A runner picked by name that failed is that runner's fault: back to the shared queues.
        if (route.kind === 'direct' && !isCustomersFault(end.err) && ++runnerFaults < limits.maxAttempts) {
          lastFault = reason;
          route = warm();
          break;
        }
        return fail(input.jobId, reason);
      }
    }
  }
}

/**
 * One dispatch of the job on one route, watched: while it runs, its progress
 * is checked, and it is cancelled when a faster runner should take over.
 */
async function runAttempt(input: JobInput, task: InferenceTask, route: Route, remainingMs: number, mayMove: boolean): Promise<AttemptEnd> {
  const limits = input.limits;
  const runner = proxyActivities<RunnerActivities>({
    taskQueue: route.queue,
    heartbeatTimeout: limits.heartbeatTimeoutMs,
    scheduleToCloseTimeout: remainingMs,
    ...(route.scheduleToStartMs !== undefined && route.scheduleToStartMs < remainingMs ? { scheduleToStartTimeout: route.scheduleToStartMs } : {}),
    // The runner's report of what it generated before stopping is what a cancelled job is billed for.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: limits.retryInitialIntervalMs,
      // A runner picked by name that fails is not asked again; the shared queues are.
      maximumAttempts: route.kind === 'direct' ? 1 : limits.maxAttempts,
      nonRetryableErrorTypes: Object.values(InferenceErrors),
    },
  });
  const scheduledAt = Date.now();
  const scope = new CancellationScope();
  let settled = false;
  const attempt = scope.run(() => runner.runInference(task));
  attempt.then(
    () => (settled = true),
    () => (settled = true),
  );

  let moved: { from: string; to: string } | null = null;
  let goCold = false;
  // Once, at the warm wait: a job nobody took moves to a cold runner, if there is one and the attempt has still not started.
  let coldCheckAt = route.coldCheckMs !== undefined ? scheduledAt + route.coldCheckMs : null;
  try {
    let waitMs = limits.progressCheckMs;
    while (!(await condition(() => settled, coldCheckAt === null ? waitMs : Math.max(1, Math.min(waitMs, coldCheckAt - Date.now()))))) {
      if (coldCheckAt !== null && Date.now() >= coldCheckAt) {
        coldCheckAt = null;
        // No answer is no move: the job keeps its place, and later looks may still send it cold.
        const moveCold = await dispatch.hasColdRunners({ model: input.model, minTier: input.minTier, unstartedJobId: input.jobId }).catch((err) => {
          if (isCancellation(err)) throw err;
          return false;
        });
        if (moveCold) {
          goCold = true;
          scope.cancel();
          break;
        }
        continue;
      }
      if (!mayMove) {
        waitMs = limits.progressCheckMs * 10;
        continue;
      }
      const advice = await dispatch
        .checkProgress({
          jobId: input.jobId,
          model: input.model,
          minTier: input.minTier,
          maxTokens: input.maxTokens,
          graceMs: limits.longJobGraceMs,
          checkEveryMs: limits.progressCheckMs,
          lastWaitMs: waitMs,
          // A warm attempt past its cold check waits as a parked one does.
          parked: route.kind === 'parked' || (route.coldCheckMs !== undefined && coldCheckAt === null),
        })
        .catch((err): { action: 'wait'; recheckAfterMs: number } => {
          if (isCancellation(err)) throw err;
          return { action: 'wait', recheckAfterMs: limits.progressCheckMs };
        });
      if (advice.action === 'move') {
        moved = { from: advice.from, to: advice.to };
        scope.cancel();
        break;
      }
      if (advice.action === 'go-cold') {
        goCold = true;
        scope.cancel();
        break;
      }
      waitMs = advice.recheckAfterMs;
    }
  } catch (err) {
    // The customer cancelled the job: its attempt is being cancelled with it; its answer follows.
    if (!isCancellation(err)) throw err;
  }

  try {
    const result = await attempt;
    return { kind: 'result', result, observedMs: Date.now() - scheduledAt };
  } catch (err) {
    if (isCancellation(err)) {
      if (moved) return { kind: 'moved', ...moved };
      if (goCold) return { kind: 'go-cold' };
      return { kind: 'cancelled', partial: partialResult(task, err), observedMs: Date.now() - scheduledAt };
    }
    const timedOut = err instanceof ActivityFailure && err.cause instanceof TimeoutFailure ? err.cause.timeoutType : null;
    if (timedOut === 'SCHEDULE_TO_START' && route.scheduleToStartMs !== undefined && Date.now() - scheduledAt < remainingMs) {
      return { kind: 'not-taken' };
    }
    return { kind: 'failed', err };
  }
}

/** What a cancelled runner says it generated (CancelledFailure details), if it is believable. */
function partialResult(task: InferenceTask, err: unknown): InferenceResult | null {
  const cancelled = err instanceof ActivityFailure ? err.cause : err;
  if (!(cancelled instanceof CancelledFailure)) return null;
  const partial = cancelled.details?.[0] as InferenceResult | undefined;
  if (!partial || partial.finishReason !== 'cancelled') return null;
  return inferenceResultProblem(task, { ...partial, finishReason: 'stop' }) === null ? partial : null;
}

function isCustomersFault(err: unknown): boolean {
  return err instanceof ActivityFailure && (err.cause as { type?: string } | undefined)?.type === InferenceErrors.PromptTooLong;
}

/** After a runner fault: another free runner by name if there is one, else the shared queues after a backoff. */
async function routeAway(
  input: JobInput,
  exclude: string[],
  faults: number,
  direct: (workerId: string) => Route,
  warm: () => Route,
): Promise<Route> {
  const other = await dispatch.pickRunner({ model: input.model, minTier: input.minTier, exclude }).catch((err) => {
    if (isCancellation(err)) throw err;
    return null;
  });
  if (other) return direct(other);
  await sleep(input.limits.retryInitialIntervalMs * 2 ** (faults - 1));
  return warm();
}

/** Charge and earnings for an accepted result: see economy/billing.ts for the rules. */
function bill(input: JobInput, result: InferenceResult, observedMs: number): JobBilling {
  const ms = billableMs(result.timings, observedMs);
  const charge = chargeMicrocredits(ms, input.creditsPerHour);
  // Who earns what is settled with the charge (economy/rates.ts): it depends on the runner's tier.
  return { workerId: result.workerId, billableMs: ms, chargeMicrocredits: charge };
}

function succeed(input: JobInput, result: InferenceResult, observedMs: number): Promise<JobOutcome> {
  return recordSuccess(input, result, bill(input, result, observedMs));
}

/** The customer pays for what was generated before the cancellation, and nothing else. */
async function settleCancelled(input: JobInput, partial: InferenceResult | null, observedMs: number): Promise<JobOutcome> {
  const billing = partial && partial.completionTokens > 0 ? bill(input, partial, observedMs) : null;
  await platform.recordJobCancelled({ jobId: input.jobId, customerId: input.customerId, partial, billing });
  return { status: 'cancelled', completionTokens: partial?.completionTokens ?? 0 };
}
