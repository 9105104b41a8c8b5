/**
 * The caller's money: balances (earnings as a GPU owner, charges and build
 * credits as a customer), the ledger entries behind them, and redemptions.
 * Balances come from account_balances, which always equals the entries' sum.
 */
import { Router } from 'express';
import type { Db } from '../platform/db.js';
import { customerAccount } from '../economy/ledger.js';
import { MICROCREDITS_PER_CREDIT, creditsToUsdCents } from '../economy/rates.js';
import { RedemptionRefused, balanceOf, ownerAccounts, redeem } from '../economy/redemption.js';
import { jsonBody } from './json-body.js';
import { ApiError } from './errors.js';
import { LedgerQuery, RedemptionBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';

export function meRouter(deps: { db: Db; settings: GatewaySettings }): Router {
  const { db, settings } = deps;
  const router = Router();

  router.get('/v1/me/balance', async (_req, res) => {
    const customerId = res.locals.customerId as string;
    const owned = await ownerAccounts(db, customerId);
    const [earnings, customer, queued] = await Promise.all([
      balanceOf(db, owned),
      balanceOf(db, [customerAccount(customerId)]),
      db.payoutRequest.aggregate({ where: { ownerId: customerId, status: 'queued' }, _sum: { credits: true } }),
    ]);
    const redeemable = Math.floor(earnings / MICROCREDITS_PER_CREDIT);
    res.json({
      object: 'balance',
      // Integer microcredits (1 credit = 1,000,000); whole credits are what can be redeemed.
      earnings: {
        balance_microcredits: earnings,
        redeemable_credits: redeemable,
        redeemable_usd_cents: creditsToUsdCents(redeemable),
        queued_for_payout_credits: queued._sum.credits ?? 0,
        runners: owned.length - 1,
      },
      // Charges are debits; build credits redeemed from earnings are credits.
      customer: { balance_microcredits: customer },
      payout_minimum_credits: settings.payoutMinimumCredits,
    });
  });

  router.get('/v1/me/ledger', async (req, res) => {
    const { limit, cursor } = LedgerQuery.parse(req.query);
    const customerId = res.locals.customerId as string;
    const accounts = [customerAccount(customerId), ...(await ownerAccounts(db, customerId))];
    const entries = await db.ledgerEntry.findMany({
      where: { account: { in: accounts }, ...(cursor ? { id: { lt: BigInt(cursor) } } : {}) },
      orderBy: { id: 'desc' },
      take: limit + 1,
      include: { transaction: true },
    });
    const page = entries.slice(0, limit);
    res.json({
      object: 'list',
      data: page.map((e) => ({
        id: e.id.toString(),
        account: e.account,
        amount_microcredits: Number(e.amount),
        kind: e.transaction.kind,
        transaction_id: e.transactionId,
        job_id: e.transaction.jobId,
        created_at: e.transaction.createdAt.toISOString(),
      })),
      next_cursor: entries.length > limit ? page.at(-1)!.id.toString() : null,
    });
  });

  router.post('/v1/me/redemptions', async (req, res) => {
    const body = RedemptionBody.parse(jsonBody(req));
    const key = req.get('idempotency-key') ?? null;
    if (key !== null && !/^[A-Za-z0-9._:-]{1,100}$/.test(key)) {
      throw new ApiError(400, 'invalid_request', 'Idempotency-Key: 1 to 100 letters, digits, ".", "_", ":" or "-"', 'Idempotency-Key');
    }
    try {
      const { redemption: r, replayed } = await redeem(db, { ownerId: res.locals.customerId as string, credits: body.credits, to: body.to, idempotencyKey: key, payoutMinimumCredits: settings.payoutMinimumCredits });
      res.status(replayed ? 200 : 201).json({ object: 'redemption', id: r.id, to: r.to, credits: r.credits, usd_cents: r.usdCents, status: r.status, created_at: r.createdAt.toISOString() });
    } catch (err) {
      if (err instanceof RedemptionRefused) throw new ApiError(err.code === 'insufficient_balance' ? 402 : 400, err.code, err.message, 'credits');
      throw err;
    }
  });

  return router;
}
