/**
 * The runner's line to the gateway: heartbeats that say what it serves and
 * how loaded it is, answered with who the platform says it is (its runner id,
 * from its token) and its trust tier.
 */
import type { TrustTier } from '@trd/protocol';
import { gatewayRequest, problemOf } from './gateway-api.js';
import type { OwnerSettings } from './owner-settings.js';

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
}

export interface HeartbeatAnswer {
  runner_id: string;
  tier: TrustTier;
  heartbeat_interval_ms: number;
  /** The owner's settings, applied at once. */
  settings: OwnerSettings;
  /** Why the platform gives this runner no new jobs (its reputation fell too low); null when it does. */
  shadowbanned?: string | null;
}

export class GatewayRejected extends Error {}

export async function sendHeartbeat(gatewayUrl: string, token: string, beat: RunnerHeartbeat): Promise<HeartbeatAnswer> {
  const answer = await gatewayRequest(gatewayUrl, '/v1/runners/heartbeat', { method: 'POST', body: beat, token });
  if (answer.status === 401 || answer.status === 403) {
    throw new GatewayRejected(`the gateway refused this runner's token: ${problemOf(answer)}; run \`trd-worker login\` or pass a valid --token`);
  }
  if (answer.status !== 200 || !answer.json?.runner_id || !answer.json.tier) {
    throw new Error(`heartbeat to ${new URL(gatewayUrl).origin} failed with HTTP ${answer.status}: ${problemOf(answer)}`);
  }
  return answer.json as HeartbeatAnswer;
}
