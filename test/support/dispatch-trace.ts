/**
 * Where each job of a burst spent its wait, read from its workflow history:
 * when it was accepted, each time its runner activity was scheduled (and on
 * which queue), and when a runner started it. A burst test prints the
 * summary, so a slow or out-of-order dispatch shows its cause in the log.
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { workflowIdForJob } from '@trd/protocol';

const EventType = proto.temporal.api.enums.v1.EventType;

export interface JobTrace {
  jobId: string;
  acceptedMs: number;
  /** runInference schedules: one per route taken (warm, then parked…). */
  schedules: { atMs: number; queue: string }[];
  /** When the runner that completed it started it, and on which try of its last schedule. */
  startedMs: number | null;
  attempt: number | null;
}

export async function traceJobs(client: Client, jobIds: string[], concurrency = 20): Promise<JobTrace[]> {
  const out: JobTrace[] = new Array(jobIds.length);
  let next = 0;
  async function worker() {
    while (next < jobIds.length) {
      const i = next++;
      const history = await client.workflow.getHandle(workflowIdForJob(jobIds[i])).fetchHistory();
      const trace: JobTrace = { jobId: jobIds[i], acceptedMs: 0, schedules: [], startedMs: null, attempt: null };
      const runInference = new Set<number>();
      for (const e of history.events ?? []) {
        const at = e.eventTime ? tsToMs(e.eventTime) : 0;
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) trace.acceptedMs = at;
        else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && e.activityTaskScheduledEventAttributes?.activityType?.name === 'runInference') {
          runInference.add(Number(e.eventId));
          trace.schedules.push({ atMs: at, queue: e.activityTaskScheduledEventAttributes.taskQueue?.name ?? '' });
        } else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED && runInference.has(Number(e.activityTaskStartedEventAttributes?.scheduledEventId))) {
          trace.startedMs = at;
          trace.attempt = e.activityTaskStartedEventAttributes?.attempt ?? null;
        }
      }
      out[i] = trace;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

/**
 * The figures that say whether a burst was served in order: accepted →
 * started percentiles, how far a job's start rank strays from its acceptance
 * rank, and how many jobs were scheduled more than once.
 */
export function summarizeTraces(traces: JobTrace[]) {
  const started = traces.filter((t) => t.startedMs !== null);
  const waits = started.map((t) => t.startedMs! - t.acceptedMs).sort((a, b) => a - b);
  const byAccepted = [...started].sort((a, b) => a.acceptedMs - b.acceptedMs);
  const startRank = new Map([...started].sort((a, b) => a.startedMs! - b.startedMs!).map((t, i) => [t.jobId, i]));
  const displacement = byAccepted.map((t, i) => startRank.get(t.jobId)! - i);
  const worst = byAccepted.map((t, i) => ({ t, d: displacement[i] })).sort((a, b) => b.d - a.d)[0];
  return {
    jobs: traces.length,
    started: started.length,
    waitP50Ms: pct(waits, 50),
    waitP99Ms: pct(waits, 99),
    waitMaxMs: waits[waits.length - 1],
    /** Largest (start rank − acceptance rank): how many later jobs a job let through before it. */
    maxDisplacement: Math.max(0, ...displacement),
    rescheduled: traces.filter((t) => t.schedules.length > 1).length,
    maxSchedules: Math.max(0, ...traces.map((t) => t.schedules.length)),
    retried: started.filter((t) => (t.attempt ?? 1) > 1).length,
    worst: worst
      ? {
          jobId: worst.t.jobId,
          displacement: worst.d,
          waitMs: worst.t.startedMs! - worst.t.acceptedMs,
          schedules: worst.t.schedules.map((s) => `${s.queue}@+${s.atMs - worst.t.acceptedMs}ms`),
          attempt: worst.t.attempt,
        }
      : null,
  };
}
