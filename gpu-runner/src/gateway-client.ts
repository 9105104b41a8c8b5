/**
 * The runner's line to the gateway: heartbeats that say what it serves and
 * how loaded it is, answered with who the platform says it is (its runner id,
 * from its token) and its trust tier.
 */
import type { TrustTier } from '@trd/protocol';
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
}

export interface HeartbeatAnswer {
  runner_id: string;
  tier: TrustTier;
  heartbeat_interval_ms: number;
  /** The owner's settings, applied at once. */
  settings: OwnerSettings;
}

export class GatewayRejected extends Error {}

export async function sendHeartbeat(gatewayUrl: string, token: string, beat: RunnerHeartbeat): Promise<HeartbeatAnswer> {
  const url = new URL('/v1/runners/heartbeat', gatewayUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(beat),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the gateway at ${url.origin} (${(err as Error).message})`);
  }
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } & Partial<HeartbeatAnswer>;
  if (res.status === 401 || res.status === 403) {
    throw new GatewayRejected(`the gateway refused this runner's token: ${body?.error?.message ?? res.status}; run \`trd-worker login\` or pass a valid --token`);
  }
  if (!res.ok || !body?.runner_id || !body.tier) {
    throw new Error(`heartbeat to ${url.origin} failed with HTTP ${res.status}: ${body?.error?.message ?? 'unexpected answer'}`);
  }
  return body as HeartbeatAnswer;
}
