/** Dispatch settings shared by the gateway and the orchestrator; every time bound is configurable. */
import { envInt } from '../platform/env.js';

export interface DispatchSettings {
  /** How often runners heartbeat to the gateway (the gateway tells them). */
  runnerHeartbeatIntervalMs: number;
}

/** A runner whose last heartbeat is older than this many intervals is taken to be gone. */
export const MISSED_HEARTBEATS_BEFORE_GONE = 2.5;

export function dispatchSettings(env: Record<string, string | undefined>): DispatchSettings {
  return {
    runnerHeartbeatIntervalMs: envInt(env, 'TRD_RUNNER_HEARTBEAT_INTERVAL_MS', 30_000, { min: 100 }),
  };
}
