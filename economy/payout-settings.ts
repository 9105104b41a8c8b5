/** The orchestrator's payout settings; every time bound is configurable so tests run with short ones. */
import { chainSettings, chainSettingsEnv, type ChainSettings } from '../chain/settings.js';
import { envInt } from '../platform/env.js';
import { stripeSettings, stripeSettingsEnv, type StripeSettings } from './stripe.js';

export interface PayoutSettings {
  stripe: StripeSettings;
  /** The chain USDC payouts are paid on; null: Stripe only. */
  chain: ChainSettings | null;
  /** How often the payout settlement runs (its Temporal Schedule). */
  scheduleIntervalMs: number;
  /** One Stripe call's bound before it is tried again, and the backoff between tries. */
  stepTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export function payoutSettings(env: Record<string, string | undefined>): PayoutSettings {
  return {
    stripe: stripeSettings(env),
    chain: chainSettings(env),
    scheduleIntervalMs: envInt(env, 'TRD_PAYOUT_INTERVAL_MS', 24 * 3600_000, { min: 1000 }),
    stepTimeoutMs: envInt(env, 'TRD_PAYOUT_STEP_TIMEOUT_MS', 30_000, { min: 100 }),
    retryInitialMs: envInt(env, 'TRD_PAYOUT_RETRY_INITIAL_MS', 5000, { min: 10 }),
    retryMaxMs: envInt(env, 'TRD_PAYOUT_RETRY_MAX_MS', 10 * 60_000, { min: 10 }),
  };
}

export function payoutSettingsEnv(s: PayoutSettings): Record<string, string> {
  return {
    ...stripeSettingsEnv(s.stripe),
    ...chainSettingsEnv(s.chain),
    TRD_PAYOUT_INTERVAL_MS: String(s.scheduleIntervalMs),
    TRD_PAYOUT_STEP_TIMEOUT_MS: String(s.stepTimeoutMs),
    TRD_PAYOUT_RETRY_INITIAL_MS: String(s.retryInitialMs),
    TRD_PAYOUT_RETRY_MAX_MS: String(s.retryMaxMs),
  };
}
