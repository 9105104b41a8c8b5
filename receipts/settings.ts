/** The orchestrator's receipt settings: chains and pinning. Every time bound is configurable so tests run with short ones. */
import { envInt, settingsEnv } from '../platform/env.js';

export interface ReceiptSettings {
  /** Pin to Filecoin through Lighthouse when set; the local content store is always written. */
  lighthouseApiKey: string | null;
  /** Lighthouse's upload node; tests point the real SDK at a local server speaking its wire format. */
  lighthouseUrl: string | null;
  pin: {
    /** One upload attempt may take this long before it is tried again. */
    attemptTimeoutMs: number;
    retryInitialMs: number;
    /** Pinning retries for as long as it takes, at most this far apart. */
    retryMaxMs: number;
  };
  chain: {
    /** A session's chain workflow continues as new after this many appends, so its history stays bounded. */
    maxAppendsPerRun: number;
    /** A chain workflow with no appends for this long completes; the next append starts it again from the database. */
    idleMs: number;
  };
}

export function receiptSettings(env: Record<string, string | undefined>): ReceiptSettings {
  return {
    lighthouseApiKey: env.TRD_LIGHTHOUSE_API_KEY || null,
    lighthouseUrl: env.TRD_LIGHTHOUSE_URL || null,
    pin: {
      attemptTimeoutMs: envInt(env, 'TRD_PIN_ATTEMPT_TIMEOUT_MS'),
      retryInitialMs: envInt(env, 'TRD_PIN_RETRY_INITIAL_MS'),
      retryMaxMs: envInt(env, 'TRD_PIN_RETRY_MAX_MS'),
    },
    chain: {
      maxAppendsPerRun: envInt(env, 'TRD_CHAIN_MAX_APPENDS_PER_RUN'),
      idleMs: envInt(env, 'TRD_CHAIN_IDLE_MS'),
    },
  };
}

/** The environment that gives an orchestrator process these settings (devstack, tests). */
export function receiptSettingsEnv(s: ReceiptSettings): Record<string, string> {
  return {
    ...settingsEnv('receipts', s),
  };
}
