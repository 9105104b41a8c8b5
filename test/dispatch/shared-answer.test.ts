/**
 * The orchestrator's shared routing answer (dispatch/shared-answer.ts): one
 * question per key per TTL however many jobs ask, a failure never kept, and
 * TTL 0 asking every time. The clock is the test's, so nothing here depends
 * on wall-clock speed. And the count of free cold slots each job that moves takes one of.
 */
import { expect, test } from '@jest/globals';
import { freeColdSlots } from '../../activities/dispatch-activities.js';
import { sharedAnswer } from '../../dispatch/shared-answer.js';

function counted(answers: Array<boolean | Error>) {
  const asked: string[] = [];
  let release!: () => void;
  let gate: Promise<void> = Promise.resolve();
  const ask = async (key: string) => {
    asked.push(key);
    await gate;
    const a = answers[Math.min(asked.length - 1, answers.length - 1)];
    if (a instanceof Error) throw a;
    return a;
  };
  const hold = () => (gate = new Promise<void>((r) => (release = r)));
  return { asked, ask, hold, release: () => release() };
}

test('a burst of callers within the TTL shares one question per key, also while it is in flight', async () => {
  let now = 1000;
  const q = counted([true, false]);
  const answer = sharedAnswer(500, q.ask, () => now);
  q.hold();
  const burst = Array.from({ length: 200 }, () => answer('m/probation'));
  q.release();
  expect(new Set(await Promise.all(burst))).toEqual(new Set([true]));
  expect(await answer('other/probation')).toBe(false);
  expect(q.asked).toEqual(['m/probation', 'other/probation']);
  now += 499;
  expect(await answer('m/probation')).toBe(true);
  expect(q.asked).toHaveLength(2);
  // Past the TTL the next caller asks again and sees the new answer.
  now += 1;
  expect(await answer('m/probation')).toBe(false);
  expect(q.asked).toEqual(['m/probation', 'other/probation', 'm/probation']);
});

test('a failed question is not kept: the next caller asks again', async () => {
  const q = counted([new Error('describe failed'), true]);
  const answer = sharedAnswer(60_000, q.ask, () => 0);
  await expect(answer('m')).rejects.toThrow('describe failed');
  expect(await answer('m')).toBe(true);
  expect(q.asked).toEqual(['m', 'm']);
});

test('TTL 0 asks every time', async () => {
  const q = counted([true]);
  const answer = sharedAnswer(0, q.ask, () => 0);
  await Promise.all([answer('m'), answer('m'), answer('m')]);
  expect(q.asked).toHaveLength(3);
});

test('free cold slots: only runners with the model on disk, not loaded, and free; one per runner without heartbeats', () => {
  const r = (isWarm: boolean, available: boolean, runningJobs: number | null, slots: number | null) => ({ isWarm, available, runningJobs, slots });
  expect(freeColdSlots([])).toBe(0);
  expect(freeColdSlots([r(true, true, 0, 4)])).toBe(0);
  expect(freeColdSlots([r(false, false, 2, 2)])).toBe(0);
  expect(freeColdSlots([r(false, true, 1, 4), r(false, true, null, null), r(true, true, 0, 8)])).toBe(4);
});
