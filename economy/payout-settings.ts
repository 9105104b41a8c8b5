/** The orchestrator's payout settings; every time bound is configurable so tests run with short ones. */
import { chainSettings, chainSettingsEnv, type ChainSettings } from '../chain/settings.js';
import { envInt, settingsEnv } from '../platform/env.js';
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
    scheduleIntervalMs: envInt(env, 'TRD_PAYOUT_INTERVAL_MS'),
    stepTimeoutMs: envInt(env, 'TRD_PAYOUT_STEP_TIMEOUT_MS'),
    retryInitialMs: envInt(env, 'TRD_PAYOUT_RETRY_INITIAL_MS'),
    retryMaxMs: envInt(env, 'TRD_PAYOUT_RETRY_MAX_MS'),
  };
}

export function payoutSettingsEnv(s: PayoutSettings): Record<string, string> {
  return {
    ...stripeSettingsEnv(s.stripe),
    ...chainSettingsEnv(s.chain),
    ...settingsEnv('payouts', s),
  };
}
