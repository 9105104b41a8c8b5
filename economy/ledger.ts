/**
 * The double-entry ledger: every transaction's entries sum to zero, and a
 * transaction's id is its idempotency key, so posting it again (an activity
 * retried, a workflow replayed) changes nothing.
 */
import type { Prisma } from '../generated/prisma/client.js';

export const PLATFORM_REVENUE = 'platform:revenue';
export const customerAccount = (customerId: string) => `customer:${customerId}`;
export const runnerAccount = (workerId: string) => `runner:${workerId}`;

export interface Posting {
  account: string;
  /** Integer microcredits; negative is a debit. */
  amount: number;
}

/** Posts the transaction once; returns false when it was already there. */
export async function postTransaction(
  tx: Prisma.TransactionClient,
  t: { id: string; kind: string; jobId?: string; postings: Posting[] },
): Promise<boolean> {
  const sum = t.postings.reduce((s, p) => s + p.amount, 0);
  if (sum !== 0 || t.postings.some((p) => !Number.isSafeInteger(p.amount))) {
    throw new Error(`ledger transaction ${t.id} does not balance: ${JSON.stringify(t.postings)}`);
  }
  const created = await tx.ledgerTransaction.createMany({ data: [{ id: t.id, kind: t.kind, jobId: t.jobId }], skipDuplicates: true });
  if (created.count === 0) return false;
  await tx.ledgerEntry.createMany({
    data: t.postings.filter((p) => p.amount !== 0).map((p) => ({ transactionId: t.id, account: p.account, amount: BigInt(p.amount) })),
  });
  return true;
}

/** A job's settlement: the customer pays the charge; the runner and the platform split it. */
export function jobSettlement(jobId: string, customerId: string, b: { workerId: string; chargeMicrocredits: number; runnerMicrocredits: number; platformMicrocredits: number }) {
  return {
    id: `job:${jobId}`,
    kind: 'job_charge',
    jobId,
    postings: [
      { account: customerAccount(customerId), amount: -b.chargeMicrocredits },
      { account: runnerAccount(b.workerId), amount: b.runnerMicrocredits },
      { account: PLATFORM_REVENUE, amount: b.platformMicrocredits },
    ],
  };
}
