/**
 * The runner's set of task queues: one activity-only Worker per queue it should poll now. Each
 * reconcile() starts the Workers of queues it should poll and stops those of queues it no longer
 * should (once they hold no job); changes run one at a time, since Worker.create is async.
 */
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { JobSlots } from './job-slots.js';

/** The longest a cancellation waits for the runner's next heartbeat to reach Temporal. */
const HEARTBEAT_THROTTLE_MS = 500;

export interface QueueSetOptions {
  connection: NativeConnection;
  namespace: string;
  identity: string;
  activities: object;
  jobSlots: JobSlots;
  concurrency: number;
  shutdownGraceMs: number;
  /** The queues the runner should poll now (none while it takes no new work). */
  desired: () => string[];
}

export class QueueSet {
  private readonly workers = new Map<string, { worker: Worker; running: Promise<void> }>();
  private reconciling = Promise.resolve();
  private wakeStopped: () => void = () => {};
  /** Set by shutdown(), or when a Worker fails: no new queue is started after it. */
  stopping = false;
  /** The first Worker failure, which stops the whole set. */
  failed: unknown = null;
  /** Resolves once shutdown() was called and every Worker has stopped. */
  readonly stopped = new Promise<void>((resolve) => (this.wakeStopped = resolve));

  constructor(private readonly o: QueueSetOptions) {}

  /** The queues polled now. */
  queues(): string[] {
    return [...this.workers.keys()];
  }

  reconcile(): Promise<void> {
    const apply = () => this.apply();
    this.reconciling = this.reconciling.then(apply, apply);
    return this.reconciling;
  }

  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const w of this.workers.values()) {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    }
    if (this.workers.size === 0) this.wakeStopped();
  }

  private async apply(): Promise<void> {
    if (this.stopping) return;
    const want = new Set(this.o.desired());
    for (const queue of want) {
      if (!this.workers.has(queue)) await this.start(queue);
    }
    // A Worker still running a job keeps it: stopping it would cancel the job after the grace time.
    for (const [queue, w] of this.workers) {
      if (!want.has(queue) && w.worker.getState() === 'RUNNING' && w.worker.getStatus().numInFlightActivities === 0) w.worker.shutdown();
    }
  }

  private async start(queue: string): Promise<void> {
    const { o } = this;
    const worker = await Worker.create({
      connection: o.connection,
      namespace: o.namespace,
      taskQueue: queue,
      identity: o.identity,
      activities: o.activities,
      // One runner-wide count of jobs for all its Workers; the rest of the tuner is unused by an activity-only worker.
      tuner: {
        activityTaskSlotSupplier: o.jobSlots.supplier(),
        workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
      },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: o.concurrency },
      shutdownGraceTime: o.shutdownGraceMs,
      // Cancellation reaches a runner in a heartbeat's answer; by default the SDK sends heartbeats as
      // rarely as 80% of the heartbeat timeout, which left a cancelled job generating for 1.4 s in tests.
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
    });
    const running = worker.run().catch((err) => {
      this.failed ??= err;
      this.shutdown();
    });
    this.workers.set(queue, { worker, running });
    void running.finally(() => {
      this.workers.delete(queue);
      // A paused runner has no Workers and stays up; only a stopping one is done.
      if (this.workers.size === 0 && this.stopping) this.wakeStopped();
    });
  }
}
