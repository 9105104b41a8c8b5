/** Temporal connection settings shared by the platform's processes. */
import { envString } from './env.js';

export interface TemporalSettings {
  address: string;
  namespace: string;
}

export function temporalSettings(env: Record<string, string | undefined>): TemporalSettings {
  return {
    address: envString(env, 'TEMPORAL_ADDRESS', '127.0.0.1:7233'),
    namespace: envString(env, 'TEMPORAL_NAMESPACE', 'default'),
  };
}
