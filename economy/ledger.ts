/**
 * The double-entry ledger: every transaction's entries sum to zero, and a
 * transaction's id is its idempotency key, so posting it again (an activity
 * retried, a workflow replayed) changes nothing. Each account's balance is
 * also kept in account_balances, written in the same transaction as the
 * entries, so it always equals their sum (a test holds it to that).
 *
 * Accounts: customer:<id> (charged for jobs, credited with build credits),
 * runner:<worker id> (a runner's earnings), owner:<customer id> (a GPU owner's
 * redemptions, against the earnings of the runners they own),
 * platform:revenue, payout:clearing (credits queued for cash until
 * Stripe pays them), and provider:<name> or pod:<name> (what the platform owes an upstream
 * tier of the cascade for the jobs it served).
 */
import type { TrustTier } from '@trd/protocol';
import type { Prisma } from '../generated/prisma/client.js';
import { splitAgentEarnings, splitEarnings } from './rates.js';
import { cappedRunnerPosting } from './fleets.js';
import { runnerAccount } from './accounts.js';

export const PLATFORM_REVENUE = 'platform:revenue';
export const PAYOUT_CLEARING = 'payout:clearing';
/** Credits paid out in cash through Stripe. */
export const PAYOUT_PAID = 'payout:paid';
export const customerAccount = (customerId: string) => `customer:${customerId}`;
// Defined with the fleets' cap (economy/fleets.ts), which the ledger calls and which must not import the ledger.
export { ownerAccount, runnerAccount } from './accounts.js';
/** `servedBy` is `provider:<name>` or `pod:<name>`, which is the account's name too. */
export const providerAccount = (servedBy: string) => servedBy;
/** An agent author's earnings from runs of their published agents (economy/rates.ts AGENT_AUTHOR_SHARE_BPS). */
export const authorAccount = (customerId: string) => `author:${customerId}`;

export interface Posting {
  account: string;
  /** Integer microcredits; negative is a debit. */
  amount: number;
}

/** Posts the transaction once; returns false when it was already there. */
export async function postTransaction(
  tx: Prisma.TransactionClient,
  t: { id: string; kind: string; jobId?: string; note?: string; postings: Posting[] },
): Promise<boolean> {
  const sum = t.postings.reduce((s, p) => s + p.amount, 0);
  if (sum !== 0 || t.postings.some((p) => !Number.isSafeInteger(p.amount))) {
    throw new Error(`ledger transaction ${t.id} does not balance: ${JSON.stringify(t.postings)}`);
  }
  const created = await tx.ledgerTransaction.createMany({ data: [{ id: t.id, kind: t.kind, jobId: t.jobId, note: t.note }], skipDuplicates: true });
  if (created.count === 0) return false;
  const postings = t.postings.filter((p) => p.amount !== 0);
  await tx.ledgerEntry.createMany({ data: postings.map((p) => ({ transactionId: t.id, account: p.account, amount: BigInt(p.amount) })) });
  // One account at a time in a fixed order, so concurrent transactions lock balance rows in the same order (no deadlock).
  for (const p of [...postings].sort((a, b) => (a.account < b.account ? -1 : 1))) {
    await tx.$executeRaw`INSERT INTO account_balances (account, balance) VALUES (${p.account}, ${BigInt(p.amount)})
      ON CONFLICT (account) DO UPDATE SET balance = account_balances.balance + EXCLUDED.balance`;
  }
  return true;
}

/** A job's settlement: the customer pays the charge; the runner's owner and the platform split it by the runner's tier, and an agent's author takes a share of the platform's part. */
export function jobSettlementFor(jobId: string, customerId: string, b: { workerId: string; chargeMicrocredits: number }, tier: TrustTier, agentAuthor?: string) {
  const split = agentAuthor !== undefined ? splitAgentEarnings(b.chargeMicrocredits, tier) : { ...splitEarnings(b.chargeMicrocredits, tier), author: 0 };
  return {
    id: `job:${jobId}`,
    kind: 'job_charge',
    jobId,
    postings: [
      { account: customerAccount(customerId), amount: -b.chargeMicrocredits },
      { account: runnerAccount(b.workerId), amount: split.runner },
      { account: PLATFORM_REVENUE, amount: split.platform },
      ...(agentAuthor !== undefined ? [{ account: authorAccount(agentAuthor), amount: split.author }] : []),
    ],
  };
}

/** The settlement at the runner's tier now; a runner the platform does not know earns at probation. */
export async function jobSettlement(tx: Prisma.TransactionClient, jobId: string, customerId: string, b: { workerId: string; chargeMicrocredits: number }) {
  const runner = await tx.runner.findUnique({ where: { id: b.workerId }, select: { tier: true } });
  // A run of a published agent pays its author (a review's dry run does not).
  const agentRun = await tx.agentRun.findUnique({ where: { jobId }, select: { payoutAccount: true, dryRun: true } });
  const t = jobSettlementFor(jobId, customerId, b, runner?.tier ?? 'probation', agentRun && !agentRun.dryRun ? agentRun.payoutAccount : undefined);
  return withFleetCap(tx, t, b.workerId);
}

/** A fleet member's runner earns under the member's daily cap (economy/fleets.ts states the bound). */
async function withFleetCap<T extends { postings: Posting[]; note?: string }>(tx: Prisma.TransactionClient, t: T, workerId: string): Promise<T> {
  const i = t.postings.findIndex((p) => p.account === runnerAccount(workerId));
  if (i < 0) return t;
  const capped = await cappedRunnerPosting(tx, workerId, t.postings[i]);
  if (capped.posting === t.postings[i]) return t;
  return { ...t, note: capped.note, postings: t.postings.map((p, j) => (j === i ? capped.posting : p)) };
}

/**
 * A job an upstream tier served: the customer pays the tier's price, the
 * provider is owed its cost, the platform keeps the margin; no runner earns.
 * Same transaction id as a runner's job, so a job is settled once whoever served it.
 */
export function upstreamSettlement(jobId: string, customerId: string, b: { servedBy: string; chargeMicrocredits: number; providerCostMicrocredits: number }) {
  return {
    id: `job:${jobId}`,
    kind: 'job_charge_upstream',
    jobId,
    note: `served by ${b.servedBy}`,
    postings: [
      { account: customerAccount(customerId), amount: -b.chargeMicrocredits },
      { account: providerAccount(b.servedBy), amount: b.providerCostMicrocredits },
      { account: PLATFORM_REVENUE, amount: b.chargeMicrocredits - b.providerCostMicrocredits },
    ],
  };
}
