/**
 * Stripe's webhook endpoint under hostile bodies and signature headers: an
 * unsigned or wrongly signed body gets 400 and changes nothing; a correctly
 * signed but malformed event (Stripe's bug, or a leaked signing secret) gets
 * a 4xx or is acknowledged, never a 5xx, and changes no one's payout state.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import Stripe from 'stripe';
import { createCustomer } from '../../gateway/api-keys.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';
import { fuzz, hostileJson, hostileString } from './fuzz-settings.js';
import { tableFingerprints } from './gateway-state.js';
import { readBody } from '../support/http.js';

const WEBHOOK_SECRET = 'whsec_fuzz_secret';
const ACCOUNT = 'acct_fuzz0001';
let gateway: GatewayOnly;
let last: Record<string, string>;
const stripe = new Stripe('sk_test_fuzz');

beforeAll(async () => {
  // The webhook never calls Stripe: the secret key only has to exist, the API URL is never used.
  gateway = await startGatewayOnly({ stripe: { secretKey: 'sk_test_fuzz', apiUrl: 'http://127.0.0.1:9/', webhookSecret: WEBHOOK_SECRET } });
  // Two owners with payout accounts, neither enabled yet: a hostile event must not enable (or touch) either.
  for (const [name, account] of [['owner', ACCOUNT], ['other', 'acct_fuzz0002']]) {
    const id = await createCustomer(gateway.db, name);
    await gateway.db.customer.update({ where: { id }, data: { stripeAccountId: account } });
  }
  last = await tableFingerprints(gateway.db);
});

afterAll(async () => {
  await gateway?.stop();
});

const sign = (payload: string, secret = WEBHOOK_SECRET, timestamp?: number) => stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

async function deliver(body: string, signature: string | null, contentType = 'application/json') {
  const res = await fetch(`${gateway.baseUrl}/v1/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body,
  });
  return readBody(res);
}

async function expectNothingChanged(context: string): Promise<void> {
  const now = await tableFingerprints(gateway.db);
  const changed = Object.keys(now).filter((t) => now[t] !== last[t]);
  last = now;
  if (changed.length) throw new Error(`tables ${changed.join(', ')} changed after ${context}`);
}

const body = fc.oneof(
  hostileJson.map((v) => JSON.stringify(v) ?? ''),
  hostileString,
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constant(JSON.stringify({ id: 'evt_1', object: 'event', type: 'account.updated', data: { object: { id: ACCOUNT, object: 'account', payouts_enabled: true } } })),
);

/** Stripe-Signature headers a forger might try: none, garbage, the right shape with wrong values, another secret, too old, non-ASCII. */
function forgedSignature(payload: string): fc.Arbitrary<string | null> {
  return fc.oneof(
    fc.constant(null),
    fc.constantFrom('', 't=', 'v1=', 't=1,v1=', ',,,', 't=abc,v1=abc', `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`, 'x'.repeat(8000)),
    hostileString.filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
    fc.string({ unit: fc.constantFrom('t', '=', ',', 'v', '1', '0', 'a', 'é') }),
    fc.constant(sign(payload, 'whsec_someone_else')),
    fc.constant(sign(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3600)),
    fc.constant(sign(payload)).map((s) => s.replace(/v1=([0-9a-f])/, (_m, c) => `v1=${c === '0' ? '1' : '0'}`)),
    fc.constant(sign(payload)).map((s) => `${s.replace(/v1=[0-9a-f]+/, 'v1=')}`),
  );
}

describe('Stripe webhooks', () => {
  test('an unsigned or forged body gets 400 invalid_signature and changes nothing', async () => {
    await fuzz(
      fc.asyncProperty(body.chain((b) => fc.tuple(fc.constant(b), forgedSignature(b), fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'))), async ([b, signature, type]) => {
        const res = await deliver(b, signature, type);
        const context = `body ${JSON.stringify(b.slice(0, 200))} with signature ${JSON.stringify(signature?.slice(0, 120))} answered ${res.status}: ${res.text.slice(0, 200)}`;
        if (res.status !== 400) throw new Error(`not refused: ${context}`);
        expect(res.json.error).toMatchObject({ code: 'invalid_signature', type: 'invalid_request_error', message: expect.stringMatching(/Stripe-Signature/) });
        await expectNothingChanged(context);
      }),
      0.5,
    );
  });

  test('a correctly signed but malformed event never gets a 5xx and changes nothing', async () => {
    const event = fc.oneof(
      hostileJson,
      fc.record({ id: hostileJson, object: fc.constant('event'), type: fc.constantFrom('account.updated', 'payout.paid', 'x'), data: hostileJson }),
      // An account.updated whose account is not a plain account id: an object here must not become a database filter.
      fc.record({
        id: fc.constant('evt_fuzz'),
        object: fc.constant('event'),
        type: fc.constant('account.updated'),
        data: fc.record({ object: fc.record({ id: fc.oneof(hostileJson, fc.constantFrom({ not: 'x' }, { contains: 'acct' }, { startsWith: 'acct_' }, ['acct_fuzz0001'])), payouts_enabled: fc.oneof(fc.constant(true), hostileJson) }, { requiredKeys: [] }) }),
      }),
    );
    await fuzz(
      fc.asyncProperty(event, async (e) => {
        const payload = JSON.stringify(e) ?? 'null';
        const res = await deliver(payload, sign(payload));
        const context = `signed ${payload.slice(0, 300)} answered ${res.status}: ${res.text.slice(0, 200)}`;
        if (res.status >= 500) throw new Error(`server error: ${context}`);
        if (res.status >= 400) expect(res.json.error.message.length).toBeGreaterThan(5);
        await expectNothingChanged(context);
      }),
      0.5,
    );
  });

  test('a signed account.updated whose id is a filter object ({not: ...}) enables no one', async () => {
    const payload = JSON.stringify({ id: 'evt_x', object: 'event', type: 'account.updated', data: { object: { id: { not: 'x' }, payouts_enabled: true } } });
    const res = await deliver(payload, sign(payload));
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_event');
    await expectNothingChanged('the filter-object account id');
  });

  test('the genuine event still enables payouts for its account only', async () => {
    const payload = JSON.stringify({ id: 'evt_ok', object: 'event', type: 'account.updated', data: { object: { id: ACCOUNT, object: 'account', payouts_enabled: true } } });
    expect((await deliver(payload, sign(payload))).status).toBe(200);
    const owners = await gateway.db.customer.findMany({ where: { stripeAccountId: { not: null } }, orderBy: { stripeAccountId: 'asc' } });
    expect(owners.map((o) => [o.stripeAccountId, o.stripePayoutsEnabled])).toEqual([
      [ACCOUNT, true],
      ['acct_fuzz0002', false],
    ]);
  });

  test('a body past 1 MiB gets 413, whatever its signature', async () => {
    const res = await deliver('x'.repeat(1024 * 1024 + 1), 't=1,v1=00');
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('body_too_large');
  });
});
