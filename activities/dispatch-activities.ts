/**
 * Routing advice for the job workflow, from what Temporal, the runners'
 * heartbeats and the job records say now (dispatch/eligible.ts). Read-only;
 * built over their dependencies in orchestrator/worker.ts.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { workflowIdForJob, type InferenceProgress, type TrustTier } from '@trd/protocol';
import { eligibleRunners, runnerStats } from '../dispatch/eligible.js';
import type { DispatchSettings } from '../dispatch/settings.js';
import type { Db } from '../platform/db.js';
import { decryptPayload, type PayloadKeys } from '../platform/payload-encryption.js';

export interface ProgressCheck {
  jobId: string;
  model: string;
  minTier: TrustTier;
  maxTokens: number;
  graceMs: number;
  checkEveryMs: number;
  /** The wait before this check; a job still queued is looked at less and less often. */
  lastWaitMs: number;
  /** The job waits on the warm queue until its deadline: worth moving to the cold queue if a cold runner is free. */
  parked: boolean;
}

export type ProgressAdvice =
  | { action: 'wait'; recheckAfterMs: number }
  | { action: 'move'; from: string; to: string }
  | { action: 'go-cold' };

/** A job counts as running long past this multiple of its expected duration (plus the grace). */
export const LONG_JOB_SLACK = 1.5;
/** Moving pays only when the fresh start is expected to finish this much sooner than staying. */
const MOVE_GAIN = 1.5;
/** A queued job is looked at no less often than this. */
const MAX_QUEUED_RECHECK_MS = 30_000;

const STARTED = proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/**
 * How long an answer to "is any runner cold for this model?" is reused: in a
 * burst every waiting job asks within the same second, and each answer costs
 * two DescribeTaskQueue calls and a query.
 */
const COLD_ANSWER_TTL_MS = 1000;

/**
 * Whether the job's runner attempt has been taken by a runner (or is gone):
 * such an attempt is never moved by the warm wait's cold check.
 */
export async function runnerAttemptTaken(client: Client, jobId: string): Promise<boolean> {
  const { raw } = await client.workflow.getHandle(workflowIdForJob(jobId)).describe();
  const pending = raw.pendingActivities?.find((a) => a.activityType?.name === 'runInference');
  return !pending || pending.state === STARTED;
}

export function createDispatchActivities(deps: { db: Db; client: Client; settings: DispatchSettings; payloadKeys: PayloadKeys | null }) {
  const { db, client, settings } = deps;
  const coldAnswers = new Map<string, { at: number; answer: Promise<boolean> }>();

  async function freeWarmRunners(model: string, minTier: TrustTier, exclude: string[]) {
    const runners = await eligibleRunners({ client, db, settings }, { model, minTier });
    return runners.filter((r) => r.isWarm && r.available && !exclude.includes(r.workerId));
  }

  return {
    /**
     * Is the running attempt past its expected duration (max_tokens at its
     * runner's measured speed, times LONG_JOB_SLACK, plus the grace), and is a
     * faster runner free that would finish sooner from scratch?
     */
    async checkProgress(c: ProgressCheck): Promise<ProgressAdvice> {
      const wait = (ms: number): ProgressAdvice => ({ action: 'wait', recheckAfterMs: Math.max(100, Math.round(ms)) });
      const { raw } = await client.workflow.getHandle(workflowIdForJob(c.jobId)).describe();
      const pending = raw.pendingActivities?.find((a) => a.activityType?.name === 'runInference');
      if (!pending || pending.state !== STARTED || !pending.lastStartedTime || !pending.lastWorkerIdentity) {
        if (c.parked) {
          const runners = await eligibleRunners({ client, db, settings }, { model: c.model, minTier: c.minTier, stats: false });
          if (runners.some((r) => !r.isWarm && r.available)) return { action: 'go-cold' };
        }
        return wait(Math.min(c.lastWaitMs * 2, MAX_QUEUED_RECHECK_MS));
      }
      const current = pending.lastWorkerIdentity;
      const startedAt = tsToMs(pending.lastStartedTime);
      const elapsedMs = Date.now() - startedAt;
      const speed = (await runnerStats(db, [current])).get(current)?.tokensPerSecond;
      // A runner never measured has no expected duration to run past.
      if (!speed) return wait(c.checkEveryMs);
      const expectedMs = ((c.maxTokens * 1000) / speed) * LONG_JOB_SLACK + c.graceMs;
      if (elapsedMs < expectedMs) return wait(Math.min(expectedMs - elapsedMs, c.checkEveryMs));

      const progress = pending.heartbeatDetails?.payloads?.[0]
        ? (defaultPayloadConverter.fromPayload(deps.payloadKeys ? decryptPayload(deps.payloadKeys, pending.heartbeatDetails.payloads[0]) : pending.heartbeatDetails.payloads[0]) as InferenceProgress)
        : null;
      const done = progress?.completionTokens ?? 0;
      const observedSpeed = (done * 1000) / Math.max(1, elapsedMs);
      const stayMs = observedSpeed > 0 ? ((c.maxTokens - done) * 1000) / observedSpeed : Infinity;
      const [fastest] = (await freeWarmRunners(c.model, c.minTier, [current]))
        .filter((r) => r.tokensPerSecond !== null)
        .sort((a, b) => b.tokensPerSecond! - a.tokensPerSecond!);
      if (fastest && ((c.maxTokens * 1000) / fastest.tokensPerSecond!) * MOVE_GAIN < stayMs) {
        return { action: 'move', from: current, to: fastest.workerId };
      }
      return wait(c.checkEveryMs);
    },

    /**
     * Whether some runner polls the model's cold queue: one that has the model
     * on disk, not loaded. With `unstartedJobId`, only while that job's runner
     * attempt is still waiting for a runner (the job may then move there).
     */
    async hasColdRunners(q: { model: string; minTier: TrustTier; unstartedJobId?: string }): Promise<boolean> {
      const key = `${q.model}/${q.minTier}`;
      const cached = coldAnswers.get(key);
      let answer = cached && Date.now() - cached.at < COLD_ANSWER_TTL_MS ? cached.answer : null;
      if (!answer) {
        const asked = eligibleRunners({ client, db, settings }, { model: q.model, minTier: q.minTier, stats: false }).then((runners) => runners.some((r) => !r.isWarm));
        coldAnswers.set(key, { at: Date.now(), answer: asked });
        asked.catch(() => coldAnswers.delete(key));
        answer = asked;
      }
      // The shared answer first: in a burst with no cold runner, no job costs a describe.
      if (!(await answer) || !q.unstartedJobId) return answer;
      return !(await runnerAttemptTaken(client, q.unstartedJobId));
    },

    /** A free warm runner other than `exclude`, best first, or null. */
    async pickRunner(q: { model: string; minTier: TrustTier; exclude: string[] }): Promise<string | null> {
      const [best] = await freeWarmRunners(q.model, q.minTier, q.exclude);
      return best?.workerId ?? null;
    },
  };
}

export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
