/** The billing rules: what is billable, the rounding rule, and a split that never creates or loses a microcredit. */
import { describe, expect, test } from '@jest/globals';
import { billableMs, chargeMicrocredits, splitCharge, RUNNER_SHARE_BPS } from '../../economy/billing.js';
import { jobSettlement } from '../../economy/ledger.js';

describe('billable time', () => {
  test('is prompt reading plus generation; loading the model is never billed', () => {
    expect(billableMs({ modelLoadMs: 0, timeToFirstTokenMs: 40, generationMs: 960 }, 5000)).toBe(1000);
    expect(billableMs({ modelLoadMs: 90_000, timeToFirstTokenMs: 40, generationMs: 960 }, 95_000)).toBe(1000);
  });

  test('never exceeds what the platform saw the attempt take', () => {
    expect(billableMs({ modelLoadMs: 0, timeToFirstTokenMs: 10, generationMs: 60_000 }, 1234.9)).toBe(1234);
  });
});

describe('the rounding rule: half up to the microcredit', () => {
  test.each([
    // ms, credits/hour, µcr = ms × rate / 3.6
    [1000, 36, 10_000],
    [3_600_000, 1, 1_000_000],
    [1, 1, 0], // 0.277… rounds down
    [2, 1, 1], // 0.555… rounds up
    [9, 1, 3], // 2.5 exactly rounds up
    [0, 72, 0],
    [600_000, 10_000, 1_666_666_667],
  ])('%i ms at %i credits/hour is %i µcr', (ms, rate, expected) => {
    expect(chargeMicrocredits(ms, rate)).toBe(expected);
  });

  test('refuses fractional or negative inputs', () => {
    expect(() => chargeMicrocredits(1.5, 36)).toThrow(/billable ms must be a non-negative integer/);
    expect(() => chargeMicrocredits(10, -1)).toThrow(/credits per hour/);
  });
});

describe('splitting a charge', () => {
  test('the runner gets its share rounded down; the parts always sum to the charge', () => {
    for (let charge = 0; charge < 5000; charge += 7) {
      const { runner, platform } = splitCharge(charge);
      expect(runner + platform).toBe(charge);
      expect(runner).toBe(Math.floor((charge * RUNNER_SHARE_BPS) / 10_000));
      expect(platform).toBeGreaterThanOrEqual(0);
    }
  });

  test("a job's ledger transaction balances to zero", () => {
    const charge = chargeMicrocredits(1337, 36);
    const split = splitCharge(charge);
    const t = jobSettlement('job_x', 'cus_y', { workerId: 'w', chargeMicrocredits: charge, runnerMicrocredits: split.runner, platformMicrocredits: split.platform });
    expect(t.postings.reduce((s, p) => s + p.amount, 0)).toBe(0);
    expect(t.postings.find((p) => p.account === 'customer:cus_y')!.amount).toBe(-charge);
  });
});
