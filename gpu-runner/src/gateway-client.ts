/**
 * The runner's line to the gateway: heartbeats that say what it serves and
 * how loaded it is, answered with who the platform says it is (its runner id,
 * from its token) and its trust tier.
 */
import { WORKER_ID_PATTERN, isTrustTier, type TrustTier } from '@trd/protocol';
import { gatewayRequest, problemOf } from './gateway-api.js';
import { parseOwnerSettings, type OwnerSettings } from './owner-settings.js';

export interface RunnerHeartbeat {
  state: 'starting' | 'idle' | 'busy' | 'loading' | 'stopping' | 'paused';
  loaded_models: string[];
  disk_models: string[];
  running_jobs: number;
  /** The jobs it works on now. */
  current_jobs: string[];
  slots: number;
  free_vram_mib: number | null;
  /** Why it takes no jobs (paused by the owner, on battery, outside the schedule); null while serving. */
  state_reason: string | null;
  /** This trd-worker's version: the platform's update notices compare it. */
  runner_version: string;
}

export interface HeartbeatAnswer {
  runner_id: string;
  tier: TrustTier;
  heartbeat_interval_ms: number;
  /** The owner's settings, applied at once. */
  settings: OwnerSettings;
  /** Why the platform gives this runner no new jobs (its reputation fell too low); null when it does. */
  shadowbanned?: string | null;
  /** The platform's update notice: recommended, or required (below the minimum it gets no new jobs); null when up to date. */
  update?: UpdateNotice | null;
}

export interface UpdateNotice {
  level: 'required' | 'recommended';
  command: string;
  message: string;
}

function parseUpdateNotice(v: unknown): UpdateNotice | null {
  if (v === undefined || v === null) return null;
  const u = v as Record<string, unknown>;
  if (typeof v !== 'object' || (u.level !== 'required' && u.level !== 'recommended') || typeof u.command !== 'string' || typeof u.message !== 'string') {
    throw new Error('update must be null or {level: "required" | "recommended", command, message}');
  }
  // Shown in the log and in `status`: bounded, one line.
  const line = (t: string) => t.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 500);
  return { level: u.level, command: line(u.command), message: line(u.message) };
}

export class GatewayRejected extends Error {}

export async function sendHeartbeat(gatewayUrl: string, token: string, beat: RunnerHeartbeat): Promise<HeartbeatAnswer> {
  const answer = await gatewayRequest(gatewayUrl, '/v1/runners/heartbeat', { method: 'POST', body: beat, token });
  if (answer.status === 401 || answer.status === 403) {
    throw new GatewayRejected(`the gateway refused this runner's token: ${problemOf(answer)}; run \`trd-worker login\` or pass a valid --token`);
  }
  if (answer.status !== 200) throw new Error(`heartbeat to ${new URL(gatewayUrl).origin} failed with HTTP ${answer.status}: ${problemOf(answer)}`);
  try {
    return parseHeartbeatAnswer(answer.json);
  } catch (err) {
    throw new Error(`heartbeat to ${new URL(gatewayUrl).origin}: the answer is malformed (${(err as Error).message})`);
  }
}

/** Longest heartbeat interval a gateway may ask for: a runner that goes quiet for longer is taken for dead anyway. */
const MAX_HEARTBEAT_INTERVAL_MS = 3_600_000;

/** The gateway's answer, checked field by field before the daemon acts on it. */
export function parseHeartbeatAnswer(json: unknown): HeartbeatAnswer {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
  const a = json as Record<string, unknown>;
  if (typeof a.runner_id !== 'string' || !WORKER_ID_PATTERN.test(a.runner_id)) throw new Error('runner_id is not a runner id');
  if (!isTrustTier(a.tier)) throw new Error(`tier ${JSON.stringify(a.tier)} is not a trust tier`);
  const interval = a.heartbeat_interval_ms;
  if (!Number.isSafeInteger(interval) || (interval as number) < 1 || (interval as number) > MAX_HEARTBEAT_INTERVAL_MS) {
    throw new Error(`heartbeat_interval_ms must be a whole number of milliseconds from 1 to ${MAX_HEARTBEAT_INTERVAL_MS}`);
  }
  if (a.shadowbanned !== undefined && a.shadowbanned !== null && typeof a.shadowbanned !== 'string') throw new Error('shadowbanned must be a reason or null');
  return {
    runner_id: a.runner_id,
    tier: a.tier,
    heartbeat_interval_ms: interval as number,
    settings: parseOwnerSettings(a.settings),
    shadowbanned: (a.shadowbanned as string | null | undefined) ?? null,
    update: parseUpdateNotice(a.update),
  };
}
