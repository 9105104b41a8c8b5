/**
 * Jobs through the real stack, with retries (a runner that returns bad
 * results loses its jobs to the others) and replays (every settlement written
 * again, as a retried activity would): the ledger balances exactly. One
 * transaction per succeeded job, whose entries sum to zero; the customer paid
 * exactly the jobs' charges; each runner earned its tier's share of its jobs;
 * and every cached balance equals the sum of its account's entries. The
 * ledger's own arithmetic under a thousand racing settlements is
 * `ledger-1000-settlements`, which needs no runner; 250 jobs here (one burst)
 * prove the path, at a quarter of the thousand's CI time.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createPlatformActivities } from '../../activities/platform-activities.js';
import { jobSettlement, postTransaction, runnerAccount } from '../../economy/ledger.js';
import { splitEarnings } from '../../economy/rates.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const JOBS = Number(process.env.TRD_LEDGER_JOBS ?? 250);
let stack: TestStack;
const TIERS = { 'ledger-verified': 'verified', 'ledger-trusted': 'trusted' } as const;

beforeAll(async () => {
  // Jobs wait in a queue of hundreds here: a progress look every 30 s (not the test default's 1 s) spares Temporal
  // thousands of describe calls that could only advise a move this test does not exercise.
  stack = await startStack({ jobLimits: { deadlineMs: 20 * 60_000, retryInitialIntervalMs: 50, progressCheckMs: 30_000 } });
  for (const [workerId, tier] of Object.entries(TIERS)) await stack.startRunner({ workerId, tier });
  // Takes jobs and answers every one wrongly: each of its jobs is retried on another runner.
  await stack.startRunner({ workerId: 'ledger-liar', env: { TRD_RUNNER_FAULTS: 'bad-result=1' } });
});

afterAll(async () => {
  await stack?.stop();
});

test(`${JOBS} jobs with retries and replays: the ledger balances exactly`, async () => {
  const created: { status: number; json: any }[] = [];
  for (let i = 0; i < JOBS; i += 250) {
    created.push(...(await Promise.all(Array.from({ length: Math.min(250, JOBS - i) }, (_, k) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `ledger ${i + k}`, max_tokens: 2 })))));
  }
  expect(created.filter((c) => c.status !== 202)).toEqual([]);
  const deadline = Date.now() + 15 * 60_000;
  while ((await stack.db.job.count({ where: { status: { in: ['queued', 'running'] } } })) > 0) {
    if (Date.now() > deadline) throw new Error('the jobs did not all finish');
    await new Promise((r) => setTimeout(r, 500));
  }
  const jobs = await stack.db.job.findMany({ select: { id: true, status: true, workerId: true, chargeMicrocredits: true, customerId: true } });
  expect(jobs.filter((j) => j.status !== 'succeeded')).toEqual([]);
  expect(jobs.some((j) => j.workerId === 'ledger-liar')).toBe(false);
  const retried = await stack.db.jobAttempt.count({ where: { workerId: 'ledger-liar', outcome: 'invalid_result' } });
  expect(retried).toBeGreaterThan(0);

  // Replays: every settlement posted again, and a tenth of the jobs recorded again whole.
  const platform = createPlatformActivities({ db: stack.db });
  for (const j of jobs) {
    const again = await stack.db.$transaction(async (tx) => postTransaction(tx, await jobSettlement(tx, j.id, j.customerId, { workerId: j.workerId!, chargeMicrocredits: Number(j.chargeMicrocredits) })));
    expect(again).toBe(false);
  }
  const receipts = await stack.db.receipt.findMany({ where: { jobId: { in: jobs.slice(0, 100).map((j) => j.id) } } });
  for (const r of receipts) {
    const j = jobs.find((x) => x.id === r.jobId)!;
    const job = await stack.db.job.findUniqueOrThrow({ where: { id: j.id } });
    await platform.recordJobSucceeded({
      jobId: j.id,
      customerId: j.customerId,
      receipt: r.document as never,
      queueWaitMs: 0,
      billing: { workerId: j.workerId!, billableMs: job.billableMs!, chargeMicrocredits: Number(j.chargeMicrocredits) },
      result: { text: job.output!, finishReason: 'length', promptTokens: job.promptTokens!, completionTokens: job.completionTokens!, workerId: j.workerId!, model: 'trd-tiny', modelSha256: '0'.repeat(64), startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), timings: { modelLoadMs: 0, timeToFirstTokenMs: 0, generationMs: 0 } } as never,
    });
  }

  const transactions = await stack.db.ledgerTransaction.findMany({ include: { entries: true } });
  expect(transactions).toHaveLength(JOBS);
  const charges = new Map(jobs.map((j) => [j.id, j.chargeMicrocredits!]));
  const earnedBy: Record<string, bigint> = {};
  let charged = 0n;
  for (const t of transactions) {
    expect(t.entries.reduce((s, e) => s + e.amount, 0n)).toBe(0n);
    const customer = t.entries.find((e) => e.account.startsWith('customer:'))!;
    expect(-customer.amount).toBe(charges.get(t.jobId!));
    charged += -customer.amount;
    const runner = t.entries.find((e) => e.account.startsWith('runner:'));
    const workerId = jobs.find((j) => j.id === t.jobId)!.workerId! as keyof typeof TIERS;
    expect(runner?.amount ?? 0n).toBe(BigInt(splitEarnings(Number(-customer.amount), TIERS[workerId]).runner));
    earnedBy[workerId] = (earnedBy[workerId] ?? 0n) + (runner?.amount ?? 0n);
  }
  expect(charged).toBe(jobs.reduce((s, j) => s + j.chargeMicrocredits!, 0n));
  expect(charged).toBeGreaterThan(0n);

  const sums = await stack.db.ledgerEntry.groupBy({ by: ['account'], _sum: { amount: true } });
  const cached = await stack.db.accountBalance.findMany();
  expect(Object.fromEntries(cached.map((b) => [b.account, b.balance]))).toEqual(Object.fromEntries(sums.map((s) => [s.account, s._sum.amount])));
  expect(sums.reduce((s, a) => s + a._sum.amount!, 0n)).toBe(0n);
  for (const [workerId, earned] of Object.entries(earnedBy)) expect(cached.find((b) => b.account === runnerAccount(workerId))!.balance).toBe(earned);
}, 18 * 60_000);
