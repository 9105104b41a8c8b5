/**
 * Stripe, for cash payouts (Connect transfers to owners' accounts) and the
 * onboarding of owners. `TRD_STRIPE_API_URL` points the real SDK at another
 * host (tests run a local server speaking Stripe's wire format). The SDK's own
 * retries are off: Temporal retries, with the same idempotency key.
 */
import Stripe from 'stripe';

export interface StripeSettings {
  secretKey: string | null;
  apiUrl: string | null;
  /** Signs `POST /v1/webhooks/stripe` deliveries (whsec_…). */
  webhookSecret: string | null;
}

export function stripeSettings(env: Record<string, string | undefined>): StripeSettings {
  return { secretKey: env.TRD_STRIPE_SECRET_KEY || null, apiUrl: env.TRD_STRIPE_API_URL || null, webhookSecret: env.TRD_STRIPE_WEBHOOK_SECRET || null };
}

export function stripeSettingsEnv(s: StripeSettings): Record<string, string> {
  return {
    ...(s.secretKey ? { TRD_STRIPE_SECRET_KEY: s.secretKey } : {}),
    ...(s.apiUrl ? { TRD_STRIPE_API_URL: s.apiUrl } : {}),
    ...(s.webhookSecret ? { TRD_STRIPE_WEBHOOK_SECRET: s.webhookSecret } : {}),
  };
}

/** A client, or null when no secret key is configured (payouts then stay queued). */
export function stripeClient(s: StripeSettings): Stripe | null {
  if (!s.secretKey) return null;
  const api = s.apiUrl ? new URL(s.apiUrl) : null;
  return new Stripe(s.secretKey, {
    maxNetworkRetries: 0,
    telemetry: false,
    ...(api ? { host: api.hostname, port: Number(api.port || (api.protocol === 'https:' ? 443 : 80)), protocol: api.protocol.replace(':', '') as 'http' | 'https' } : {}),
  });
}

/** Stripe refused the request for a reason a retry will not change (as opposed to an outage). */
export function isStripeRefusal(err: unknown): err is Stripe.errors.StripeError {
  return (
    err instanceof Stripe.errors.StripeInvalidRequestError ||
    err instanceof Stripe.errors.StripeCardError ||
    err instanceof Stripe.errors.StripePermissionError ||
    err instanceof Stripe.errors.StripeIdempotencyError
  );
}
