/** The billing rules: what is billable, the rounding rule, and a split that never creates or loses a microcredit. */
import { describe, expect, test } from '@jest/globals';
import { TRUST_TIERS } from '@trd/protocol';
import { billableMs, chargeMicrocredits } from '../../economy/billing.js';
import { jobSettlementFor } from '../../economy/ledger.js';
import { OWNER_SHARE_BPS, TIER_MULTIPLIER_BPS, creditsToUsdCents, splitEarnings } from '../../economy/rates.js';

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

describe('earnings: charge × owner share × tier multiplier', () => {
  test.each([
    ['probation', 630_000],
    ['verified', 700_000],
    ['trusted', 805_000],
  ] as const)('a %s runner earns %i µcr of a 1-credit charge', (tier, earned) => {
    expect(splitEarnings(1_000_000, tier)).toEqual({ runner: earned, platform: 1_000_000 - earned });
  });

  test('the runner gets its share rounded down; the parts always sum to the charge, for every tier', () => {
    for (const tier of TRUST_TIERS) {
      for (let charge = 0; charge < 20_000; charge += 7) {
        const { runner, platform } = splitEarnings(charge, tier);
        expect(runner + platform).toBe(charge);
        expect(runner).toBe(Math.floor((charge * OWNER_SHARE_BPS * TIER_MULTIPLIER_BPS[tier]) / 100_000_000));
        expect(platform).toBeGreaterThanOrEqual(0);
      }
    }
    // Far past 2^53 / 10^8, where a float product would round: still exact.
    const huge = Number.MAX_SAFE_INTEGER;
    expect(splitEarnings(huge, 'trusted').runner + splitEarnings(huge, 'trusted').platform).toBe(huge);
  });

  test('refuses a fractional charge or an unknown tier', () => {
    expect(() => splitEarnings(1.5, 'verified')).toThrow(/non-negative integer/);
    expect(() => splitEarnings(10, 'gold' as never)).toThrow(/unknown trust tier "gold"/);
  });

  test("a job's ledger transaction balances to zero", () => {
    const charge = chargeMicrocredits(1337, 36);
    for (const tier of TRUST_TIERS) {
      const t = jobSettlementFor('job_x', 'cus_y', { workerId: 'w', chargeMicrocredits: charge }, tier);
      expect(t.postings.reduce((s, p) => s + p.amount, 0)).toBe(0);
      expect(t.postings.find((p) => p.account === 'customer:cus_y')!.amount).toBe(-charge);
    }
  });

  test('1000 credits are 8.00 USD', () => {
    expect(creditsToUsdCents(1000)).toBe(800);
    expect(creditsToUsdCents(5000)).toBe(4000);
    expect(creditsToUsdCents(1)).toBe(0);
  });
});
