/** Dispatch settings shared by the gateway and the orchestrator; every time bound is configurable. */
import { envInt } from '../platform/env.js';

export interface DispatchSettings {
  /** How often runners heartbeat to the gateway (the gateway tells them). */
  runnerHeartbeatIntervalMs: number;
}

/** A runner whose last heartbeat is older than this many intervals is taken to be gone. */
export const MISSED_HEARTBEATS_BEFORE_GONE = 2.5;

/** Whether a runner last heard from at `lastHeartbeatAt` is still there at `now`. */
export function heardFromLately(lastHeartbeatAt: Date | null, s: DispatchSettings, now = Date.now()): boolean {
  return lastHeartbeatAt !== null && now - lastHeartbeatAt.getTime() <= s.runnerHeartbeatIntervalMs * MISSED_HEARTBEATS_BEFORE_GONE;
}

/** The oldest heartbeat that still counts at `now`, for queries. */
export function heardFromSince(s: DispatchSettings, now = Date.now()): Date {
  return new Date(now - s.runnerHeartbeatIntervalMs * MISSED_HEARTBEATS_BEFORE_GONE);
}

export function dispatchSettings(env: Record<string, string | undefined>): DispatchSettings {
  return {
    runnerHeartbeatIntervalMs: envInt(env, 'TRD_RUNNER_HEARTBEAT_INTERVAL_MS'),
  };
}
