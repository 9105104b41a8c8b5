/** The plots' buckets, pure: UTC days and hours ending with the one that holds now, and a day's minutes a runner could have been up. */
import { expect, test } from '@jest/globals';
import { bucketStarts, expectedMinutesOfDay, isWarm } from '../../economy/history.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test('buckets end with the one holding now, oldest first, on UTC boundaries', () => {
  const now = new Date('2026-12-02T22:51:13.500Z');
  const days = bucketStarts(now, DAY, 30);
  expect(days).toHaveLength(30);
  expect(new Date(days.at(-1)!).toISOString()).toBe('2026-12-02T00:00:00.000Z');
  expect(new Date(days[0]!).toISOString()).toBe('2026-11-03T00:00:00.000Z');
  const hours = bucketStarts(now, HOUR, 168);
  expect(new Date(hours.at(-1)!).toISOString()).toBe('2026-12-02T22:00:00.000Z');
  expect(hours[1]! - hours[0]!).toBe(HOUR);
});

test("a day's expected minutes: none before joining or after now, part of the first and last day", () => {
  const joined = new Date('2026-11-30T18:00:30Z');
  const now = new Date('2026-12-02T06:30:00Z');
  expect(expectedMinutesOfDay(Date.parse('2026-11-29T00:00:00Z'), joined, now)).toBe(0);
  // Joined at 18:00:30: the minute it joined counts whole.
  expect(expectedMinutesOfDay(Date.parse('2026-11-30T00:00:00Z'), joined, now)).toBe(6 * 60);
  expect(expectedMinutesOfDay(Date.parse('2026-12-01T00:00:00Z'), joined, now)).toBe(1440);
  expect(expectedMinutesOfDay(Date.parse('2026-12-02T00:00:00Z'), joined, now)).toBe(6 * 60 + 30);
  expect(expectedMinutesOfDay(Date.parse('2026-12-03T00:00:00Z'), joined, now)).toBe(0);
});

test('warm means a model loaded and taking jobs', () => {
  expect(isWarm('idle', ['trd-tiny'])).toBe(true);
  expect(isWarm('busy', ['trd-tiny'])).toBe(true);
  expect(isWarm('idle', [])).toBe(false);
  for (const state of ['starting', 'loading', 'paused', 'stopping'] as const) expect(isWarm(state, ['trd-tiny'])).toBe(false);
});
