/** Federation's settings (declared in protocol/src/settings.ts): this pod's name and the bounds of its exchanges with peers. */
import { POD_NAME_PATTERN } from '@trd/protocol/attestation';
import { SettingsError, envInt, envString } from '../platform/env.js';

export interface FederationSettings {
  podName: string;
  /** A new peer's attestation interval and quota (each peer's own are kept in its row). */
  attestEveryMs: number;
  quotaPerMinute: number;
  maxHeads: number;
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export function federationSettings(env: Record<string, string | undefined>): FederationSettings {
  const podName = envString(env, 'TRD_POD_NAME');
  if (!POD_NAME_PATTERN.test(podName)) throw new SettingsError(`TRD_POD_NAME: "${podName}" is not a pod name (a-z 0-9 . _ -, starting with a letter or digit, up to 64)`);
  return {
    podName,
    attestEveryMs: envInt(env, 'TRD_FEDERATION_ATTEST_EVERY_MS'),
    quotaPerMinute: envInt(env, 'TRD_FEDERATION_QUOTA_PER_MINUTE'),
    maxHeads: envInt(env, 'TRD_FEDERATION_MAX_HEADS'),
    timeoutMs: envInt(env, 'TRD_FEDERATION_TIMEOUT_MS'),
    retryInitialMs: envInt(env, 'TRD_FEDERATION_RETRY_INITIAL_MS'),
    retryMaxMs: envInt(env, 'TRD_FEDERATION_RETRY_MAX_MS'),
  };
}
