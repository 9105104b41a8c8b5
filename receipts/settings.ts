/** The orchestrator's receipt settings: chains and pinning. Every time bound is configurable so tests run with short ones. */
import { envInt } from '../platform/env.js';

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
      attemptTimeoutMs: envInt(env, 'TRD_PIN_ATTEMPT_TIMEOUT_MS', 60_000, { min: 100 }),
      retryInitialMs: envInt(env, 'TRD_PIN_RETRY_INITIAL_MS', 2000, { min: 10 }),
      retryMaxMs: envInt(env, 'TRD_PIN_RETRY_MAX_MS', 10 * 60_000, { min: 10 }),
    },
    chain: {
      maxAppendsPerRun: envInt(env, 'TRD_CHAIN_MAX_APPENDS_PER_RUN', 500, { min: 1, max: 10_000 }),
      idleMs: envInt(env, 'TRD_CHAIN_IDLE_MS', 3600_000, { min: 100 }),
    },
  };
}

/** The environment that gives an orchestrator process these settings (devstack, tests). */
export function receiptSettingsEnv(s: ReceiptSettings): Record<string, string> {
  return {
    ...(s.lighthouseApiKey ? { TRD_LIGHTHOUSE_API_KEY: s.lighthouseApiKey } : {}),
    ...(s.lighthouseUrl ? { TRD_LIGHTHOUSE_URL: s.lighthouseUrl } : {}),
    TRD_PIN_ATTEMPT_TIMEOUT_MS: String(s.pin.attemptTimeoutMs),
    TRD_PIN_RETRY_INITIAL_MS: String(s.pin.retryInitialMs),
    TRD_PIN_RETRY_MAX_MS: String(s.pin.retryMaxMs),
    TRD_CHAIN_MAX_APPENDS_PER_RUN: String(s.chain.maxAppendsPerRun),
    TRD_CHAIN_IDLE_MS: String(s.chain.idleMs),
  };
}
