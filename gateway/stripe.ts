/**
 * Stripe at the gateway: an owner connects a Stripe account for cash payouts
 * (an Express account and its onboarding link), and Stripe's webhooks tell us
 * when the account can receive them. A webhook is believed only with a valid
 * signature, checked by the real SDK over the exact bytes received.
 */
import express, { Router } from 'express';
import type Stripe from 'stripe';
import type { Db } from '../platform/db.js';
import { stripeClient, type StripeSettings } from '../economy/stripe.js';
import { ApiError } from './errors.js';
import { publicBase } from './public-url.js';

function requireClient(s: StripeSettings): Stripe {
  const stripe = stripeClient(s);
  if (!stripe) throw new ApiError(503, 'payouts_not_configured', 'cash payouts are not set up on this platform (no Stripe key); build credits still work');
  return stripe;
}

/** `POST /v1/me/payout-account`: the owner's Connect account (made once) and a fresh onboarding link. */
export function payoutAccountRouter(deps: { db: Db; stripe: StripeSettings; publicUrl: string | null }): Router {
  const router = Router();
  router.post('/v1/me/payout-account', async (req, res) => {
    const stripe = requireClient(deps.stripe);
    const ownerId = res.locals.customerId as string;
    const owner = await deps.db.customer.findUniqueOrThrow({ where: { id: ownerId } });
    let accountId = owner.stripeAccountId;
    if (!accountId) {
      // Keyed by owner: a retried request (or two at once) makes one account.
      const account = await stripe.accounts.create({ type: 'express', metadata: { owner_id: ownerId } }, { idempotencyKey: `account-${ownerId}` });
      accountId = account.id;
      await deps.db.customer.update({ where: { id: ownerId }, data: { stripeAccountId: accountId } });
    }
    const base = publicBase(req, deps.publicUrl);
    const link = await stripe.accountLinks.create({ account: accountId, type: 'account_onboarding', refresh_url: `${base}/dashboard/`, return_url: `${base}/dashboard/` });
    res.status(owner.stripeAccountId ? 200 : 201).json({
      object: 'payout_account',
      stripe_account_id: accountId,
      payouts_enabled: owner.stripePayoutsEnabled,
      onboarding_url: link.url,
      onboarding_url_expires_at: new Date(link.expires_at * 1000).toISOString(),
    });
  });
  return router;
}

/** Mounted before the JSON body parser: the signature is over the raw bytes. */
export function stripeWebhookRouter(deps: { db: Db; stripe: StripeSettings }): Router {
  const router = Router();
  router.post('/v1/webhooks/stripe', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const stripe = requireClient(deps.stripe);
    if (!deps.stripe.webhookSecret) throw new ApiError(503, 'webhooks_not_configured', 'no webhook signing secret (TRD_STRIPE_WEBHOOK_SECRET)');
    let event: Stripe.Event;
    try {
      event = stripe.webhooks.constructEvent(req.body as Buffer, req.get('stripe-signature') ?? '', deps.stripe.webhookSecret);
    } catch (err) {
      throw new ApiError(400, 'invalid_signature', `the Stripe-Signature header does not match this body: ${(err as Error).message}`);
    }
    // constructEvent is JSON.parse behind a signature check: any JSON value comes out.
    if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof event.type !== 'string') {
      throw new ApiError(400, 'invalid_event', 'the signed body is not a Stripe event (an object with a "type")');
    }
    if (event.type === 'account.updated') {
      const account = accountOf(event);
      await deps.db.customer.updateMany({ where: { stripeAccountId: account.id }, data: { stripePayoutsEnabled: account.payouts_enabled === true } });
    }
    // Other events are acknowledged and ignored: Stripe stops resending what it got a 2xx for.
    res.json({ received: true, type: event.type });
  });
  return router;
}

/**
 * The account an `account.updated` event is about, checked: the signature says
 * who sent the bytes, not that they are well formed, and an id that is not a
 * string (an object) would become a database filter matching other owners.
 */
function accountOf(event: Stripe.Event): { id: string; payouts_enabled: unknown } {
  const account = (event.data as { object?: unknown } | null | undefined)?.object as { id?: unknown; payouts_enabled?: unknown } | null | undefined;
  if (typeof account !== 'object' || account === null || typeof account.id !== 'string' || !/^acct_[A-Za-z0-9]{1,64}$/.test(account.id)) {
    throw new ApiError(400, 'invalid_event', 'account.updated without an account (data.object.id must be an acct_ id)');
  }
  return { id: account.id, payouts_enabled: account.payouts_enabled };
}
