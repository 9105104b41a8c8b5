/**
 * Whether an organization may start one more job now: its key's rate limit
 * (jobs per rolling minute) and its monthly spending cap (this month's
 * charges plus what open jobs hold, plus what this one would hold). Runs in
 * the transaction that records the job, with the organization's row locked,
 * so concurrent requests are admitted one at a time and cannot overspend.
 */
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';

type Tx = Prisma.TransactionClient;

export interface Admission {
  customerId: string;
  apiKeyId?: string;
  reserveMicrocredits: number;
  now: Date;
}

/**
 * Records a job if its organization may start it. An organization without a
 * cap, sending with a key without a rate limit, has nothing to check and is
 * not serialized (a burst of 500 jobs would otherwise queue on its row lock).
 */
export async function admitAndRecord(db: Db, a: Admission, record: (tx: Tx) => Promise<unknown>, waitMs: number): Promise<void> {
  const key = a.apiKeyId ? await db.apiKey.findUnique({ where: { id: a.apiKeyId }, select: { rateLimitPerMinute: true } }) : null;
  const org = await db.customer.findUniqueOrThrow({ where: { id: a.customerId }, select: { monthlyCapMicrocredits: true } });
  if (org.monthlyCapMicrocredits === null && (key?.rateLimitPerMinute ?? null) === null) {
    await record(db);
    return;
  }
  await db.$transaction(
    async (tx) => {
      await admitJob(tx, a);
      await record(tx);
    },
    { maxWait: waitMs, timeout: waitMs },
  );
}

const RATE_WINDOW_MS = 60_000;
const credits = (microcredits: bigint | number) => (Number(microcredits) / 1e6).toFixed(6).replace(/\.?0+$/, '');

export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export interface MonthSpending {
  capMicrocredits: bigint | null;
  /** Charges of jobs that finished this month (UTC). */
  spentMicrocredits: bigint;
  /** Held by jobs still queued or running. */
  reservedMicrocredits: bigint;
}

export async function monthSpending(tx: Tx, customerId: string, now: Date): Promise<MonthSpending> {
  const org = await tx.customer.findUniqueOrThrow({ where: { id: customerId }, select: { monthlyCapMicrocredits: true } });
  const [spent, open] = await Promise.all([
    tx.job.aggregate({ where: { customerId, finishedAt: { gte: monthStart(now) } }, _sum: { chargeMicrocredits: true } }),
    tx.job.aggregate({ where: { customerId, status: { in: ['queued', 'running'] } }, _sum: { reservedMicrocredits: true } }),
  ]);
  return {
    capMicrocredits: org.monthlyCapMicrocredits,
    spentMicrocredits: spent._sum.chargeMicrocredits ?? 0n,
    reservedMicrocredits: open._sum.reservedMicrocredits ?? 0n,
  };
}

async function admitJob(tx: Tx, r: Admission): Promise<void> {
  // Serializes admissions per organization (its keys' rate limits and its cap) until the job row is written.
  await tx.$queryRaw`SELECT 1 FROM customers WHERE id = ${r.customerId} FOR UPDATE`;

  if (r.apiKeyId) {
    const key = await tx.apiKey.findUniqueOrThrow({ where: { id: r.apiKeyId }, select: { rateLimitPerMinute: true } });
    if (key.rateLimitPerMinute !== null) {
      const recent = await tx.job.findMany({
        where: { apiKeyId: r.apiKeyId, acceptedAt: { gt: new Date(r.now.getTime() - RATE_WINDOW_MS) } },
        select: { acceptedAt: true },
        orderBy: { acceptedAt: 'asc' },
      });
      if (recent.length >= key.rateLimitPerMinute) {
        // Free again once the oldest job in the window is a minute old.
        const retryAfter = Math.max(1, Math.ceil((recent[0]!.acceptedAt.getTime() + RATE_WINDOW_MS - r.now.getTime()) / 1000));
        throw new ApiError(429, 'rate_limit_exceeded', `this API key may start ${key.rateLimitPerMinute} job(s) a minute; retry in ${retryAfter} s`, null, {
          'retry-after': String(retryAfter),
        });
      }
    }
  }

  const m = await monthSpending(tx, r.customerId, r.now);
  if (m.capMicrocredits === null) return;
  const wouldBe = m.spentMicrocredits + m.reservedMicrocredits + BigInt(r.reserveMicrocredits);
  if (wouldBe <= m.capMicrocredits) return;
  // If the jobs still open are what is in the way, they settle soon (to less than they hold); else the cap resets next month.
  const fitsWithoutOpenJobs = m.spentMicrocredits + BigInt(r.reserveMicrocredits) <= m.capMicrocredits;
  const nextMonth = new Date(Date.UTC(r.now.getUTCFullYear(), r.now.getUTCMonth() + 1, 1));
  const retryAfter = fitsWithoutOpenJobs ? 5 : Math.ceil((nextMonth.getTime() - r.now.getTime()) / 1000);
  throw new ApiError(
    402,
    'spending_cap_reached',
    `this job would hold ${credits(r.reserveMicrocredits)} credits, taking the organization past its monthly cap of ${credits(m.capMicrocredits)} credits ` +
      `(spent ${credits(m.spentMicrocredits)} credits this month, ${credits(m.reservedMicrocredits)} held by open jobs); raise the cap with PATCH /v1/org or retry later`,
    null,
    { 'retry-after': String(retryAfter) },
  );
}
