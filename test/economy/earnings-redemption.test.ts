/**
 * Earnings and redemption on the real stack: each job pays its runner's owner
 * the charge × share × tier multiplier; balances equal the ledger; owners
 * redeem whole credits into build credits or the payout queue, and a refused
 * redemption changes nothing, even with several at once.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ownerAccount, postTransaction, runnerAccount, PLATFORM_REVENUE } from '../../economy/ledger.js';
import { splitEarnings } from '../../economy/rates.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

let stack: TestStack;
let ownerId: string;
const TIERS = { 'earn-probation': 'probation', 'earn-verified': 'verified', 'earn-trusted': 'trusted' } as const;

beforeAll(async () => {
  stack = await startStack();
  for (const [workerId, tier] of Object.entries(TIERS)) await stack.startRunner({ workerId, tier });
  ownerId = (await api(stack, 'GET', '/v1/org')).json.id;
  await stack.db.runner.updateMany({ where: { id: { in: Object.keys(TIERS) } }, data: { ownerId } });
});

afterAll(async () => {
  await stack?.stop();
});

const entriesCount = () => stack.db.ledgerEntry.count();

async function grant(credits: number, id: string): Promise<void> {
  // Earnings big enough to redeem: the tiny model's jobs earn fractions of a credit.
  await stack.db.$transaction((tx) =>
    postTransaction(tx, { id, kind: 'test_grant', postings: [{ account: PLATFORM_REVENUE, amount: -credits * 1e6 }, { account: runnerAccount('earn-verified'), amount: credits * 1e6 }] }),
  );
}

describe('earnings', () => {
  test("each job pays its runner's owner charge × 70% × the tier multiplier; the platform keeps the rest", async () => {
    const created = await Promise.all(
      (['probation', 'verified', 'trusted', 'trusted', 'verified', 'probation'] as const).map((min_tier, i) =>
        api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `earn ${i}`, max_tokens: 16, min_tier }),
      ),
    );
    const jobs = await Promise.all(created.map((c) => waitForJob(stack, c.json.id, (j) => j.status === 'succeeded')));
    const seen = new Set<string>();
    for (const job of jobs) {
      const tier = TIERS[job.worker_id as keyof typeof TIERS];
      seen.add(tier);
      const entries = await stack.db.ledgerEntry.findMany({ where: { transaction: { jobId: job.id } } });
      const amount = (account: string) => Number(entries.find((e) => e.account === account)?.amount ?? 0n);
      const charge = job.billing.charge_microcredits;
      expect(charge).toBeGreaterThan(0);
      expect(amount(runnerAccount(job.worker_id))).toBe(splitEarnings(charge, tier).runner);
      expect(amount(PLATFORM_REVENUE)).toBe(splitEarnings(charge, tier).platform);
      expect(entries.reduce((s, e) => s + e.amount, 0n)).toBe(0n);
    }
    expect(seen.has('trusted')).toBe(true);
  });

  test('cached balances equal the sum of the entries, and /v1/me/balance reports the owned runners’ earnings', async () => {
    const sums = await stack.db.ledgerEntry.groupBy({ by: ['account'], _sum: { amount: true } });
    const cached = await stack.db.accountBalance.findMany();
    expect(Object.fromEntries(cached.map((b) => [b.account, b.balance]))).toEqual(Object.fromEntries(sums.map((s) => [s.account, s._sum.amount])));
    const earned = sums.filter((s) => Object.keys(TIERS).some((id) => s.account === runnerAccount(id))).reduce((n, s) => n + Number(s._sum.amount), 0);
    const balance = (await api(stack, 'GET', '/v1/me/balance')).json;
    expect(balance.earnings.balance_microcredits).toBe(earned);
    expect(balance.earnings.runners).toBe(3);
    expect(balance.customer.balance_microcredits).toBeLessThan(0);
    expect(balance.payout_minimum_credits).toBe(5000);
  });
});

describe('redemption', () => {
  test('into build credits at once: the owner’s earnings go down, their customer account up', async () => {
    await grant(6000, 'grant-1');
    const before = (await api(stack, 'GET', '/v1/me/balance')).json;
    const r = await api(stack, 'POST', '/v1/me/redemptions', { credits: 100, to: 'build_credits' });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ object: 'redemption', to: 'build_credits', credits: 100, usd_cents: 80, status: 'credited' });
    const after = (await api(stack, 'GET', '/v1/me/balance')).json;
    expect(after.earnings.balance_microcredits).toBe(before.earnings.balance_microcredits - 100e6);
    expect(after.customer.balance_microcredits).toBe(before.customer.balance_microcredits + 100e6);
  });

  test('below the payout minimum, above the balance, or malformed: refused with a clear error, nothing changed', async () => {
    const entries = await entriesCount();
    const small = await api(stack, 'POST', '/v1/me/redemptions', { credits: 120, to: 'cash' });
    expect(small.status).toBe(400);
    expect(small.json.error).toMatchObject({ code: 'below_payout_minimum', param: 'credits' });
    expect(small.json.error.message).toBe('credits: cash payouts start at 5,000 credits (40.00 USD); you asked for 120. Build credits have no minimum.');
    const big = await api(stack, 'POST', '/v1/me/redemptions', { credits: 1_000_000, to: 'build_credits' });
    expect(big.status).toBe(402);
    expect(big.json.error.code).toBe('insufficient_balance');
    expect(big.json.error.message).toMatch(/^credits: you have 5,9\d\d redeemable credits; you asked for 1,000,000$/);
    for (const body of [{ credits: 1.5, to: 'cash' }, { credits: 10, to: 'bitcoin' }, { credits: 10, to: 'cash', extra: 1 }, { credits: -5, to: 'cash' }, {}]) {
      const bad = await api(stack, 'POST', '/v1/me/redemptions', body);
      expect(bad.status).toBe(400);
    }
    expect(await entriesCount()).toBe(entries);
    expect(await stack.db.payoutRequest.count()).toBe(0);
  });

  test('into the payout queue, once per idempotency key', async () => {
    const headers = { 'idempotency-key': 'payout-2026-11-a' };
    const first = await fetch(`${stack.baseUrl}/v1/me/redemptions`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ credits: 5000, to: 'cash' }) });
    expect(first.status).toBe(201);
    const body = await first.json();
    expect(body).toMatchObject({ to: 'cash', credits: 5000, usd_cents: 4000, status: 'queued' });
    const again = await fetch(`${stack.baseUrl}/v1/me/redemptions`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ credits: 5000, to: 'cash' }) });
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe(body.id);
    expect(await stack.db.payoutRequest.findMany()).toMatchObject([{ id: body.id, ownerId, credits: 5000, status: 'queued' }]);
    expect(Number((await stack.db.accountBalance.findUnique({ where: { account: 'payout:clearing' } }))!.balance)).toBe(5000e6);
    expect(Number((await stack.db.accountBalance.findUnique({ where: { account: ownerAccount(ownerId) } }))!.balance)).toBe(-5100e6);
    expect((await api(stack, 'GET', '/v1/me/balance')).json.earnings.queued_for_payout_credits).toBe(5000);
  });

  test('several at once never spend the same credits twice', async () => {
    await grant(11_000, 'grant-2');
    const available = (await api(stack, 'GET', '/v1/me/balance')).json.earnings.redeemable_credits;
    expect(available).toBeGreaterThanOrEqual(11_000);
    expect(available).toBeLessThan(15_000);
    const results = await Promise.all([1, 2, 3].map(() => api(stack, 'POST', '/v1/me/redemptions', { credits: 5000, to: 'cash' })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 402]);
    expect((await api(stack, 'GET', '/v1/me/balance')).json.earnings.redeemable_credits).toBe(available - 10_000);
  });

  test('the ledger lists the entries behind the balances, page by page', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await api(stack, 'GET', `/v1/me/ledger?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).json;
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.data.map((e: any) => e.id));
      cursor = page.next_cursor;
    } while (cursor);
    const mine = await stack.db.ledgerEntry.count({ where: { account: { in: [`customer:${ownerId}`, ownerAccount(ownerId), ...Object.keys(TIERS).map(runnerAccount)] } } });
    expect(new Set(seen).size).toBe(mine);
    expect((await api(stack, 'GET', '/v1/me/ledger?limit=0')).status).toBe(400);
    expect((await api(stack, 'GET', '/v1/me/ledger?cursor=abc')).status).toBe(400);
  });
});
