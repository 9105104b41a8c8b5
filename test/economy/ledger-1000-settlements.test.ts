/**
 * The ledger under 1,000 settlements on a real PostgreSQL, each delivered
 * three times at once (a retried activity racing its first try on another
 * orchestrator replica), then once more in replay: one transaction per job,
 * each summing to zero; the customer paid exactly the jobs' charges; each
 * runner earned its tier's share; every cached balance equals the sum of its
 * account's entries. The path through real runners and Temporal, retries
 * included, is `ledger-real-stack`; this tier needs neither, so it can afford
 * the thousand.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as ed from '@noble/ed25519';
import { signReceipt } from '@trd/protocol';
import { createPlatformActivities } from '../../activities/platform-activities.js';
import { runnerAccount } from '../../economy/ledger.js';
import { splitEarnings } from '../../economy/rates.js';
import { createCustomer } from '../../gateway/api-keys.js';
import { RECEIPT_FIELDS } from '../support/receipt-fields.js';
import { startGatewayOnly, type GatewayOnly } from '../support/gateway-only.js';

const JOBS = Number(process.env.TRD_LEDGER_SETTLEMENTS ?? 1000);
const DELIVERIES = 3;
const TIERS = { 'settle-probation': 'probation', 'settle-verified': 'verified', 'settle-trusted': 'trusted' } as const;
let gw: GatewayOnly;

beforeAll(async () => {
  gw = await startGatewayOnly();
});

afterAll(async () => {
  await gw?.stop();
});

test(`${JOBS} settlements, each delivered ${DELIVERIES} times at once and replayed: the ledger balances exactly`, async () => {
  const db = gw.db;
  const customerId = await createCustomer(db, 'ledger customer');
  for (const [id, tier] of Object.entries(TIERS)) await db.runner.create({ data: { id, tier } });
  const workers = Object.keys(TIERS) as (keyof typeof TIERS)[];
  const secret = ed.utils.randomSecretKey();
  // Charges of every size a job can have, from nothing to thousands of credits: the split's rounding is exercised at each.
  const jobs = Array.from({ length: JOBS }, (_, i) => ({
    id: `job_settle_${i}`,
    workerId: workers[i % workers.length]!,
    charge: i % 97 === 0 ? 0 : (i * 7_919_371) % 5_000_000_000,
  }));
  await db.job.createMany({
    data: jobs.map((j) => ({ id: j.id, customerId, model: 'trd-tiny', promptSha256: 'b'.repeat(64), maxTokens: 2, temperature: 0, status: 'running' as const, acceptedAt: new Date() })),
  });
  const platform = createPlatformActivities({ db });
  const settle = async (j: (typeof jobs)[number]) => {
    const receipt = await signReceipt({ ...RECEIPT_FIELDS, job_id: j.id, worker_id: j.workerId, issued_at: '2026-03-01T00:00:02.000Z' }, secret);
    const success = {
      jobId: j.id,
      customerId,
      receipt,
      queueWaitMs: 0,
      billing: { workerId: j.workerId, billableMs: 1000, chargeMicrocredits: j.charge },
      result: { text: 'ok', finishReason: 'length', promptTokens: 5, completionTokens: 2, workerId: j.workerId, model: 'trd-tiny', modelSha256: 'a'.repeat(64), startedAt: '2026-03-01T00:00:00.000Z', finishedAt: '2026-03-01T00:00:01.000Z', timings: { modelLoadMs: 0, timeToFirstTokenMs: 0, generationMs: 0 } },
    } as Parameters<typeof platform.recordJobSucceeded>[0];
    await Promise.all(Array.from({ length: DELIVERIES }, () => platform.recordJobSucceeded(success)));
    return success;
  };
  // 25 jobs at a time (75 transactions in flight): more than a connection pool holds, as under a burst.
  const delivered: Awaited<ReturnType<typeof settle>>[] = [];
  for (let i = 0; i < jobs.length; i += 25) delivered.push(...(await Promise.all(jobs.slice(i, i + 25).map(settle))));
  // Replay, as a workflow's history replay or a late retry would deliver them again.
  for (let i = 0; i < delivered.length; i += 50) await Promise.all(delivered.slice(i, i + 50).map((s) => platform.recordJobSucceeded(s)));

  expect(await db.job.count({ where: { status: { not: 'succeeded' } } })).toBe(0);
  expect(await db.receipt.count()).toBe(JOBS);
  const transactions = await db.ledgerTransaction.findMany({ include: { entries: true } });
  expect(transactions).toHaveLength(JOBS);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const earnedBy: Record<string, bigint> = {};
  for (const t of transactions) {
    const j = byId.get(t.jobId!)!;
    expect(t.entries.reduce((s, e) => s + e.amount, 0n)).toBe(0n);
    expect(-(t.entries.find((e) => e.account.startsWith('customer:'))?.amount ?? 0n)).toBe(BigInt(j.charge));
    const earned = t.entries.find((e) => e.account === runnerAccount(j.workerId))?.amount ?? 0n;
    expect(earned).toBe(BigInt(splitEarnings(j.charge, TIERS[j.workerId]).runner));
    earnedBy[j.workerId] = (earnedBy[j.workerId] ?? 0n) + earned;
  }

  const sums = await db.ledgerEntry.groupBy({ by: ['account'], _sum: { amount: true } });
  const cached = await db.accountBalance.findMany();
  expect(Object.fromEntries(cached.map((b) => [b.account, b.balance]))).toEqual(Object.fromEntries(sums.map((s) => [s.account, s._sum.amount])));
  expect(sums.reduce((s, a) => s + a._sum.amount!, 0n)).toBe(0n);
  const charged = jobs.reduce((s, j) => s + BigInt(j.charge), 0n);
  expect(cached.find((b) => b.account === `customer:${customerId}`)!.balance).toBe(-charged);
  for (const w of workers) expect(cached.find((b) => b.account === runnerAccount(w))!.balance).toBe(earnedBy[w]);
}, 10 * 60_000);
