/**
 * Cash payouts end to end: owners connect Stripe accounts through the gateway,
 * queue redemptions, and the payoutSettlement workflow (started by its
 * Temporal Schedule) pays each one once through the real `stripe` SDK pointed
 * at a local server speaking Stripe's wire format, through a Stripe outage, a
 * refused transfer and an orchestrator killed mid-batch. Webhooks are believed
 * only with a valid signature.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Stripe from 'stripe';
import { PLATFORM_REVENUE, ownerAccount, postTransaction } from '../../economy/ledger.js';
import { PAYOUT_SCHEDULE_ID, type SettlementSummary } from '../../platform/workflow-api.js';
import { PAYOUT_SEARCH_ATTRIBUTE_KEYS } from '../../workflows/payout-settlement.js';
import { startStripeFake, type StripeFake } from '../support/stripe-fake.js';
import { runScheduled } from '../support/schedules.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const SECRET = 'sk_test_trd_fake';
const WEBHOOK_SECRET = 'whsec_trd_test';
let stack: TestStack;
let stripe: StripeFake;
const owners: Record<'a' | 'b' | 'c' | 'd', { key: string; id: string; account?: string }> = {} as never;

beforeAll(async () => {
  stripe = await startStripeFake(SECRET);
  stack = await startStack({
    orchestrator: 'process',
    payouts: {
      stripe: { secretKey: SECRET, apiUrl: stripe.url.href, webhookSecret: WEBHOOK_SECRET },
      stepTimeoutMs: 2500,
      retryInitialMs: 100,
      retryMaxMs: 500,
    },
  });
  for (const name of ['a', 'b', 'c', 'd'] as const) {
    const key = await stack.newApiKey(`owner ${name}`);
    owners[name] = { key, id: (await api(stack, 'GET', '/v1/org', undefined, key)).json.id };
  }
});

afterAll(async () => {
  await stack?.stop();
  await stripe?.stop();
});

async function grant(ownerId: string, credits: number, id: string): Promise<void> {
  await stack.db.$transaction((tx) =>
    postTransaction(tx, { id, kind: 'test_grant', postings: [{ account: PLATFORM_REVENUE, amount: -credits * 1e6 }, { account: ownerAccount(ownerId), amount: credits * 1e6 }] }),
  );
}

async function cashOut(key: string, credits: number): Promise<string> {
  const r = await api(stack, 'POST', '/v1/me/redemptions', { credits, to: 'cash' }, key);
  expect(r.status).toBe(201);
  return r.json.id;
}

/** Runs a batch now through the schedule, as the daily trigger would, and waits for its summary. */
async function runBatch(during?: () => Promise<void>): Promise<{ summary: SettlementSummary; workflowId: string }> {
  const { result, workflowId } = await runScheduled<SettlementSummary>(stack, PAYOUT_SCHEDULE_ID, 'payoutSettlement', during);
  return { summary: result, workflowId };
}

const transfersFor = (payoutId: string) => stripe.transfers.filter((t) => t.metadata.payout_id === payoutId);

describe('owner onboarding', () => {
  test('connects a Stripe Express account once and gives an onboarding link each time', async () => {
    for (const name of ['a', 'b', 'c'] as const) {
      const r = await api(stack, 'POST', '/v1/me/payout-account', undefined, owners[name].key);
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ object: 'payout_account', stripe_account_id: expect.stringMatching(/^acct_/), payouts_enabled: false });
      expect(r.json.onboarding_url).toBe(`https://connect.stripe.test/setup/${r.json.stripe_account_id}`);
      owners[name].account = r.json.stripe_account_id;
    }
    const again = await api(stack, 'POST', '/v1/me/payout-account', undefined, owners.a.key);
    expect(again.status).toBe(200);
    expect(again.json.stripe_account_id).toBe(owners.a.account);
    expect(stripe.accounts.size).toBe(3);
  });
});

describe('payout settlement', () => {
  test('pays each owner once through a Stripe outage; a refused transfer returns the credits with the reason', async () => {
    for (const name of ['a', 'b', 'c', 'd'] as const) await grant(owners[name].id, 12_000, `grant-${name}`);
    stripe.decline(owners.c.account!);
    const paidIds = [await cashOut(owners.a.key, 5000), await cashOut(owners.b.key, 5000), await cashOut(owners.b.key, 5500)];
    const refused = await cashOut(owners.c.key, 6000);
    const unconnected = await cashOut(owners.d.key, 5000);
    stripe.failNext(2);

    const { summary, workflowId } = await runBatch();
    expect(summary).toMatchObject({ stripeConfigured: true, payouts: 5, paid: 3, returned: 2, held: 0, paidCredits: 15_500, paidUsdCents: 12_400 });
    for (const id of paidIds) {
      expect(transfersFor(id)).toHaveLength(1);
      expect(transfersFor(id)[0].idempotencyKey).toBe(`payout-${id}`);
    }
    expect(stripe.transfers).toHaveLength(3);
    expect(stripe.transfers.map((t) => t.amount).sort()).toEqual([4000, 4000, 4400]);
    expect(stripe.transfers.every((t) => t.transfer_group === workflowId)).toBe(true);

    const rows = Object.fromEntries((await stack.db.payoutRequest.findMany()).map((p) => [p.id, p]));
    for (const id of paidIds) expect(rows[id]).toMatchObject({ status: 'paid', batchId: workflowId, stripeTransferId: transfersFor(id)[0].id });
    expect(rows[refused]).toMatchObject({ status: 'failed', detail: expect.stringContaining('insufficient_capabilities_for_transfer') });
    expect(rows[unconnected]).toMatchObject({ status: 'failed', detail: expect.stringContaining('no connected Stripe account') });

    // The refused owner has the credits back, and the ledger says why.
    expect((await api(stack, 'GET', '/v1/me/balance', undefined, owners.c.key)).json.earnings.redeemable_credits).toBe(12_000);
    const returned = await stack.db.ledgerTransaction.findUnique({ where: { id: `payout-returned:${refused}` } });
    expect(returned).toMatchObject({ kind: 'payout_returned', note: expect.stringMatching(/^Stripe refused the transfer: .*insufficient_capabilities_for_transfer/) });
    const balance = async (account: string) => Number((await stack.db.accountBalance.findUnique({ where: { account } }))?.balance ?? 0n);
    expect(await balance('payout:clearing')).toBe(0);
    expect(await balance('payout:paid')).toBe(15_500e6);

    // What finance sees in Temporal: named steps and the batch's totals.
    const handle = stack.client.workflow.getHandle(workflowId);
    expect((await handle.describe()).memo).toMatchObject({ payouts: 5, total_credits: 26_500, paid: 3, paid_usd_cents: 12_400, returned: 2, held_for_review: 0 });
    const attributes = (await handle.describe()).typedSearchAttributes;
    expect(attributes.get(PAYOUT_SEARCH_ATTRIBUTE_KEYS.status)).toBe('settled');
    expect(attributes.get(PAYOUT_SEARCH_ATTRIBUTE_KEYS.paidUsdCents)).toBe(12_400);
    const found: string[] = [];
    for await (const w of stack.client.workflow.list({ query: 'TrdPayoutStatus = "settled" AND TrdPayoutPaidUsdCents > 10000' })) found.push(w.workflowId);
    expect(found).toEqual([workflowId]);
    const history = await handle.fetchHistory();
    const steps = new Set(history.events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean));
    expect([...steps].sort()).toEqual(['collectQueuedPayouts', 'markPayoutPaid', 'reconcileWithStripe', 'returnCreditsToOwner', 'transferToOwner']);

    // Nothing is left to pay: the next batch pays nobody again.
    expect((await runBatch()).summary.payouts).toBe(0);
    expect(stripe.transfers).toHaveLength(3);
  });

  test('an orchestrator killed mid-batch pays each owner once after it restarts', async () => {
    await grant(owners.a.id, 20_000, 'grant-a-2');
    await grant(owners.b.id, 5000, 'grant-b-2');
    const ids = [await cashOut(owners.a.key, 5000), await cashOut(owners.a.key, 6000), await cashOut(owners.b.key, 5000)];
    stripe.delayMs = 1500;
    const requestsBefore = stripe.transferRequests;
    const { summary } = await runBatch(async () => {
      const deadline = Date.now() + 20_000;
      while (stripe.transferRequests === requestsBefore) {
        if (Date.now() > deadline) throw new Error('no transfer was attempted');
        await new Promise((r) => setTimeout(r, 50));
      }
      // A transfer is in flight at Stripe: kill the orchestrator now.
      await stack.stopOrchestrator('SIGKILL');
      await stack.startOrchestrator();
    });
    stripe.delayMs = 0;
    expect(summary).toMatchObject({ payouts: 3, paid: 3, returned: 0 });
    for (const id of ids) expect(transfersFor(id)).toHaveLength(1);
    // The transfer in flight was asked for again after the restart, and Stripe answered from its idempotency record.
    expect(stripe.transferRequests - requestsBefore).toBeGreaterThan(3);
    expect((await stack.db.payoutRequest.findMany({ where: { id: { in: ids } } })).every((p) => p.status === 'paid')).toBe(true);
  });
});

describe('Stripe webhooks', () => {
  const client = new Stripe(SECRET);
  const event = (payoutsEnabled: boolean) =>
    JSON.stringify({ id: 'evt_1', object: 'event', type: 'account.updated', data: { object: { id: owners.a.account, object: 'account', payouts_enabled: payoutsEnabled } } });
  const post = (body: string, signature: string) =>
    fetch(`${stack.baseUrl}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body });
  const enabled = async () => (await stack.db.customer.findUniqueOrThrow({ where: { id: owners.a.id } })).stripePayoutsEnabled;

  test('a bad signature is refused and changes nothing', async () => {
    const body = event(true);
    for (const signature of ['', 't=1,v1=deadbeef', client.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_someone_else' })]) {
      const res = await post(body, signature);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_signature');
    }
    // Signed, then changed in flight.
    const signed = client.webhooks.generateTestHeaderString({ payload: event(false), secret: WEBHOOK_SECRET });
    expect((await post(body, signed)).status).toBe(400);
    expect(await enabled()).toBe(false);
  });

  test('a signed account.updated records that the owner can receive payouts', async () => {
    const body = event(true);
    const res = await post(body, client.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, type: 'account.updated' });
    expect(await enabled()).toBe(true);
    expect((await api(stack, 'POST', '/v1/me/payout-account', undefined, owners.a.key)).json.payouts_enabled).toBe(true);
  });
});
