/**
 * Owners turn earned credits into build credits (at once) or into the cash
 * payout queue. Whole credits only; checked against what the owner's runners
 * earned minus what was redeemed, inside one transaction that holds the
 * owner's lock, so two redemptions at once cannot spend the same credits.
 */
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../platform/db.js';
import { PAYOUT_CLEARING, customerAccount, ownerAccount, postTransaction, runnerAccount } from './ledger.js';
import { MICROCREDITS_PER_CREDIT, creditsToUsdCents } from './rates.js';
import { redeemableRunnerIds } from './fleets.js';

export type RedemptionTarget = 'build_credits' | 'cash';

export interface Redemption {
  id: string;
  to: RedemptionTarget;
  credits: number;
  usdCents: number;
  status: 'credited' | 'queued' | 'paid' | 'failed';
  createdAt: Date;
}

export class RedemptionRefused extends Error {
  constructor(
    readonly code: 'below_payout_minimum' | 'insufficient_balance',
    message: string,
  ) {
    super(message);
    this.name = 'RedemptionRefused';
  }
}

/** The ledger accounts whose sum is what an owner may redeem: their runners' earnings (a fleet's by its payout choice, economy/fleets.ts) and their own redemptions. */
export async function ownerAccounts(db: Pick<Db, 'runner' | 'fleet'>, ownerId: string): Promise<string[]> {
  return [ownerAccount(ownerId), ...(await redeemableRunnerIds(db, ownerId)).map(runnerAccount)];
}

export async function balanceOf(db: Pick<Db, 'accountBalance'>, accounts: string[]): Promise<number> {
  const sum = await db.accountBalance.aggregate({ where: { account: { in: accounts } }, _sum: { balance: true } });
  return Number(sum._sum.balance ?? 0n);
}

const fmt = (n: number) => n.toLocaleString('en-US');

export async function redeem(
  db: Db,
  r: { ownerId: string; credits: number; to: RedemptionTarget; idempotencyKey: string | null; payoutMinimumCredits: number },
): Promise<{ redemption: Redemption; replayed: boolean }> {
  const id = `redeem:${r.ownerId}:${r.idempotencyKey ?? crypto.randomUUID()}`;
  return db.$transaction(async (tx) => {
    // One redemption per owner at a time; earnings only ever add, so they need no lock.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${ownerAccount(r.ownerId)}))`;
    const earlier = await tx.ledgerTransaction.findUnique({ where: { id }, include: { entries: true } });
    if (earlier) return { redemption: await describe(tx, earlier), replayed: true };

    if (r.to === 'cash' && r.credits < r.payoutMinimumCredits) {
      throw new RedemptionRefused(
        'below_payout_minimum',
        `credits: cash payouts start at ${fmt(r.payoutMinimumCredits)} credits (${usd(r.payoutMinimumCredits)}); you asked for ${fmt(r.credits)}. Build credits have no minimum.`,
      );
    }
    const available = Math.floor((await balanceOf(tx, await ownerAccounts(tx, r.ownerId))) / MICROCREDITS_PER_CREDIT);
    if (r.credits > available) {
      throw new RedemptionRefused('insufficient_balance', `credits: you have ${fmt(available)} redeemable credits; you asked for ${fmt(r.credits)}`);
    }
    const amount = r.credits * MICROCREDITS_PER_CREDIT;
    const to = r.to === 'cash' ? PAYOUT_CLEARING : customerAccount(r.ownerId);
    await postTransaction(tx, {
      id,
      kind: r.to === 'cash' ? 'redeem_cash' : 'redeem_build_credits',
      postings: [
        { account: ownerAccount(r.ownerId), amount: -amount },
        { account: to, amount },
      ],
    });
    if (r.to === 'cash') await tx.payoutRequest.create({ data: { id, ownerId: r.ownerId, credits: r.credits } });
    const created = await tx.ledgerTransaction.findUniqueOrThrow({ where: { id }, include: { entries: true } });
    return { redemption: await describe(tx, created), replayed: false };
  });
}

const usd = (credits: number) => `${(creditsToUsdCents(credits) / 100).toFixed(2)} USD`;

async function describe(tx: Prisma.TransactionClient, t: { id: string; kind: string; createdAt: Date; entries: { account: string; amount: bigint }[] }): Promise<Redemption> {
  const credited = t.entries.find((e) => e.amount > 0n)!;
  const credits = Number(credited.amount) / MICROCREDITS_PER_CREDIT;
  const to: RedemptionTarget = t.kind === 'redeem_cash' ? 'cash' : 'build_credits';
  const payout = to === 'cash' ? await tx.payoutRequest.findUnique({ where: { id: t.id } }) : null;
  return {
    id: t.id,
    to,
    credits,
    usdCents: creditsToUsdCents(credits),
    status: to === 'build_credits' ? 'credited' : ((payout?.status ?? 'queued') as Redemption['status']),
    createdAt: t.createdAt,
  };
}
