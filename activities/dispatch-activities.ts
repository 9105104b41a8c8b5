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
import { eligibleRunners, runnerStats, type EligibleRunner } from '../dispatch/eligible.js';
import type { DispatchSettings } from '../dispatch/settings.js';
import { sharedAnswer } from '../dispatch/shared-answer.js';
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
 * Whether the job's runner attempt has been taken by a runner (or is gone):
 * such an attempt is never moved by the warm wait's cold check.
 */
export async function runnerAttemptTaken(client: Client, jobId: string): Promise<boolean> {
  const { raw } = await client.workflow.getHandle(workflowIdForJob(jobId)).describe();
  const pending = raw.pendingActivities?.find((a) => a.activityType?.name === 'runInference');
  return !pending || pending.state === STARTED;
}

/** Free job slots of the runners that have the model only on disk; a runner that sends no heartbeat counts one. */
export function freeColdSlots(runners: readonly Pick<EligibleRunner, 'isWarm' | 'available' | 'runningJobs' | 'slots'>[]): number {
  let free = 0;
  for (const r of runners) {
    if (r.isWarm || !r.available) continue;
    free += r.slots !== null && r.runningJobs !== null ? Math.max(0, r.slots - r.runningJobs) : 1;
  }
  return free;
}

export function createDispatchActivities(deps: { db: Db; client: Client; settings: DispatchSettings; payloadKeys: PayloadKeys | null }) {
  const { db, client, settings } = deps;
  /**
   * The free job slots of runners with the model on disk (not loaded), per model and tier,
   * counted once and shared by every job this orchestrator asks for within
   * settings.coldAnswerTtlMs (dispatch/shared-answer.ts). Each job that moves takes one, so
   * a burst that meets one free cold runner moves as many jobs as it has slots, not every
   * waiting job: the others keep their place on the warm queue instead of each paying a
   * describe, a cancelled attempt and a wait behind the cold runner's one slot.
   * Another replica counts its own; a stale count only moves a job more or fewer.
   */
  const coldSlots = sharedAnswer(settings.coldAnswerTtlMs, async (key) => {
    const [model, minTier] = JSON.parse(key) as [string, TrustTier];
    return { free: freeColdSlots(await eligibleRunners({ client, db, settings }, { model, minTier, stats: false })) };
  });
  /** One of the counted free cold slots for this job, or null; `giveBack` when the job does not move after all. */
  async function takeColdSlot(model: string, minTier: TrustTier): Promise<{ giveBack(): void } | null> {
    const slots = await coldSlots(JSON.stringify([model, minTier]));
    if (slots.free <= 0) return null;
    slots.free--;
    return { giveBack: () => void slots.free++ };
  }

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
        if (c.parked && (await takeColdSlot(c.model, c.minTier))) return { action: 'go-cold' };
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
     * Whether the job should move to the model's cold queue: a runner with the
     * model on disk, not loaded, has a free slot this job can take. With
     * `unstartedJobId`, only while that job's runner attempt is still waiting
     * for a runner (a taken attempt is never moved). The shared count comes
     * first, so while no cold slot is free no job costs a describe.
     */
    async hasColdRunners(q: { model: string; minTier: TrustTier; unstartedJobId?: string }): Promise<boolean> {
      const slot = await takeColdSlot(q.model, q.minTier);
      if (!slot) return false;
      let taken = false;
      try {
        taken = q.unstartedJobId !== undefined && (await runnerAttemptTaken(client, q.unstartedJobId));
      } catch (err) {
        slot.giveBack();
        throw err;
      }
      if (taken) slot.giveBack();
      return !taken;
    },

    /** A free warm runner other than `exclude`, best first, or null. */
    async pickRunner(q: { model: string; minTier: TrustTier; exclude: string[] }): Promise<string | null> {
      const [best] = await freeWarmRunners(q.model, q.minTier, q.exclude);
      return best?.workerId ?? null;
    },
  };
}

export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
