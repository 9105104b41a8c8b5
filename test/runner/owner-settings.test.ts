/**
 * The owner's settings: the pure rules (schedule windows in the owner's time
 * zone, across midnight; battery; pause) with an injected clock, and the
 * daemon applying them without a restart on a real stack.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunnerToken } from '../../gateway/runners.js';
import { DEFAULT_OWNER_SETTINGS, inWindow, servingDecision } from '../../gpu-runner/src/owner-settings.js';
import { api, startStack, TEST_RUNNER_HEARTBEAT_MS, type TestStack } from '../support/stack.js';

describe('the rules', () => {
  // Wednesday 2026-11-25 in Berlin (UTC+1).
  const at = (iso: string) => new Date(iso);
  test.each([
    ['09:00–17:00, at 10:00 Berlin', { start: '09:00', end: '17:00' }, '2026-11-25T09:00:00Z', true],
    ['09:00–17:00, at 17:00 Berlin (end is exclusive)', { start: '09:00', end: '17:00' }, '2026-11-25T16:00:00Z', false],
    ['22:00–06:00, at 23:30 Wednesday', { start: '22:00', end: '06:00' }, '2026-11-25T22:30:00Z', true],
    ['22:00–06:00, at 03:00 Thursday', { start: '22:00', end: '06:00' }, '2026-11-26T02:00:00Z', true],
    ['22:00–06:00, at 12:00', { start: '22:00', end: '06:00' }, '2026-11-25T11:00:00Z', false],
    ['Fridays 22:00–06:00, at 03:00 Saturday', { days: [5], start: '22:00', end: '06:00' }, '2026-11-28T02:00:00Z', true],
    ['Fridays 22:00–06:00, at 03:00 Thursday', { days: [5], start: '22:00', end: '06:00' }, '2026-11-26T02:00:00Z', false],
    ['weekdays 09:00–17:00, on Saturday', { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' }, '2026-11-28T10:00:00Z', false],
  ])('%s', (_name, window, now, expected) => {
    expect(inWindow(window, at(now), 'Europe/Berlin')).toBe(expected);
  });

  test('the same instant is in or out of a window depending on the time zone', () => {
    const w = { start: '09:00', end: '17:00' };
    expect(inWindow(w, at('2026-11-25T15:00:00Z'), 'Europe/Berlin')).toBe(true);
    expect(inWindow(w, at('2026-11-25T15:00:00Z'), 'Asia/Tokyo')).toBe(false);
  });

  test('pause, battery and schedule each stop new work, with the reason', () => {
    const now = at('2026-11-25T12:00:00Z');
    expect(servingDecision(DEFAULT_OWNER_SETTINGS, now, true)).toEqual({ serve: true });
    expect(servingDecision({ ...DEFAULT_OWNER_SETTINGS, paused: true }, now, false)).toEqual({ serve: false, reason: 'paused by the owner' });
    expect(servingDecision({ ...DEFAULT_OWNER_SETTINGS, pause_on_battery: true }, now, true)).toEqual({ serve: false, reason: 'on battery' });
    expect(servingDecision({ ...DEFAULT_OWNER_SETTINGS, pause_on_battery: true }, now, false)).toEqual({ serve: true });
    const night = { ...DEFAULT_OWNER_SETTINGS, schedule: { timezone: 'UTC', windows: [{ start: '22:00', end: '06:00' }] } };
    expect(servingDecision(night, now, false)).toEqual({ serve: false, reason: 'outside the schedule' });
    expect(servingDecision(night, at('2026-11-25T23:00:00Z'), false)).toEqual({ serve: true });
  });
});

describe('the daemon', () => {
  let stack: TestStack;
  let token: string;
  const power = join(mkdtempSync(join(tmpdir(), 'power-')), 'source');

  beforeAll(async () => {
    stack = await startStack();
    token = await createRunnerToken(stack.db, 'owned');
    writeFileSync(power, 'ac');
    await stack.startRunner({ workerId: 'owned', token, env: { TRD_POWER_SOURCE_FILE: power } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const put = (settings: unknown) => api(stack, 'PUT', '/v1/runners/settings', settings, token);
  const settle = () => new Promise((r) => setTimeout(r, TEST_RUNNER_HEARTBEAT_MS * 2.5));
  const job = (wait: number) => api(stack, 'POST', `/v1/jobs?wait=${wait}`, { model: 'trd-tiny', prompt: 'owner rules', max_tokens: 4 });

  async function expectHeldThenServed(hold: () => Promise<unknown>, release: () => Promise<unknown>) {
    await hold();
    await settle();
    const held = await job(2);
    expect(held.json.status).toBe('queued');
    expect((await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny')).json.data).toEqual([]);
    await release();
    const done = await api(stack, 'GET', `/v1/jobs/${held.json.id}?wait=30`);
    expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'owned' });
  }

  test('a manual pause stops new work within the heartbeat interval; resuming serves the waiting job', async () => {
    expect((await job(30)).json.status).toBe('succeeded');
    await expectHeldThenServed(
      () => put({ paused: true }),
      () => put({ paused: false }),
    );
  });

  test('going on battery with pause-on-battery stops new work; back on mains resumes', async () => {
    await put({ pause_on_battery: true });
    await expectHeldThenServed(
      async () => writeFileSync(power, 'battery'),
      async () => writeFileSync(power, 'ac'),
    );
  });

  test('a whitelist without the model stops serving it, without a restart', async () => {
    await expectHeldThenServed(
      () => put({ models: ['qwen2.5-0.5b-instruct'] }),
      () => put({ models: ['trd-tiny'] }),
    );
  });

  test('invalid settings get a clear error and the previous settings stay', async () => {
    const before = (await api(stack, 'GET', '/v1/runners/settings', undefined, token)).json;
    for (const [body, mentions] of [
      [{ schedule: { timezone: 'Mars/Olympus', windows: [{ start: '09:00', end: '17:00' }] } }, /IANA time zone/],
      [{ schedule: { timezone: 'UTC', windows: [{ start: '25:00', end: '17:00' }] } }, /HH:MM/],
      [{ schedule: { timezone: 'UTC', windows: [{ start: '09:00', end: '09:00' }] } }, /start and end must differ/],
      [{ models: ['gpt-17'] }, /not a catalog model/],
      [{ pause: true }, /unknown field.*pause/],
    ] as const) {
      const res = await put(body);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(mentions);
    }
    expect((await api(stack, 'GET', '/v1/runners/settings', undefined, token)).json).toEqual(before);
    expect(before).toMatchObject({ models: ['trd-tiny'] });
  });
});
