/**
 * The runner's heartbeats to the gateway: one every interval the gateway names, one soon after a
 * change of load (at most one a second for it), and each answer applied (tier, owner settings,
 * shadowban, update notice) before the queue set is brought in line with it.
 */
import { GatewayRejected, sendHeartbeat, type RunnerHeartbeat } from './gateway-client.js';
import type { ServingState } from './serving-state.js';

export interface GatewaySyncOptions {
  url: string;
  token: string;
  state: ServingState;
  log: (line: string) => void;
  /** The heartbeat's body, as the runner is now. */
  body: () => RunnerHeartbeat;
  /** Before each heartbeat (samples free VRAM). */
  beforeBeat: () => Promise<void>;
  /** After an answer was applied (reconciles the queue set). */
  afterAnswer: () => Promise<void>;
  /** The gateway refused the token: the runner stops. */
  onRejected: () => void;
  stopping: () => boolean;
}

export class GatewaySync {
  private lastBeatAt = 0;
  private beatPending = false;
  private periodic: NodeJS.Timeout | undefined;

  constructor(private readonly o: GatewaySyncOptions) {}

  async beat(): Promise<void> {
    const { o } = this;
    this.lastBeatAt = Date.now();
    try {
      await o.beforeBeat();
      o.state.take(await sendHeartbeat(o.url, o.token, o.body()));
      const wasPaused = o.state.pausedFor;
      o.state.apply();
      await o.afterAnswer();
      // Say "paused" (or back) at once, so routing stops (or starts) counting this runner.
      if (wasPaused !== o.state.pausedFor) this.beatSoon();
    } catch (err) {
      o.log(`heartbeat: ${(err as Error).message}`);
      if (err instanceof GatewayRejected) o.onRejected();
    }
  }

  /** A change of load is sent soon, but at most one heartbeat a second goes out for it. */
  beatSoon(): void {
    if (this.beatPending) return;
    this.beatPending = true;
    setTimeout(() => {
      this.beatPending = false;
      void this.beat();
    }, Math.max(0, 1000 - (Date.now() - this.lastBeatAt))).unref();
  }

  /** Heartbeats every interval until the runner stops. */
  beatEvery(): void {
    // Not unref'd: a paused runner has no Workers, and this timer is what keeps it alive and listening.
    this.periodic = setTimeout(() => void this.beat().finally(() => this.o.stopping() || this.beatEvery()), this.o.state.heartbeatEveryMs);
  }

  stop(): void {
    clearTimeout(this.periodic);
  }
}
