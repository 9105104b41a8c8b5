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
  let runner: Awaited<ReturnType<TestStack['startRunner']>>;
  const dir = mkdtempSync(join(tmpdir(), 'owner-'));
  const power = join(dir, 'power-source');
  const clock = join(dir, 'clock');

  beforeAll(async () => {
    stack = await startStack();
    token = await createRunnerToken(stack.db, 'owned');
    writeFileSync(power, 'ac');
    writeFileSync(clock, '2026-11-25T23:00:00Z');
    runner = await stack.startRunner({
      workerId: 'owned',
      token,
      // Two sequences, and tokens slow enough that jobs at once overlap in time.
      extraArgs: ['--concurrency', '2'],
      env: { TRD_POWER_SOURCE_FILE: power, TRD_CLOCK_FILE: clock, TRD_RUNNER_FAULTS: 'token-delay-ms=10' },
    });
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

  /** What the runner's heartbeats last said it holds in memory and on disk. */
  const held = async () => stack.db.runner.findUniqueOrThrow({ where: { id: 'owned' }, select: { loadedModels: true, diskModels: true } });

  test('a whitelist without the model stops serving it and unloads it, without a restart; put back, it is loaded again', async () => {
    await expectHeldThenServed(
      async () => {
        await put({ models: ['qwen2.5-0.5b-instruct'] });
        await runner.waitFor(/unloaded trd-tiny: not on the owner's model list/, 15_000);
      },
      async () => {
        await put({ models: ['trd-tiny'] });
        await runner.waitFor(/loaded trd-tiny again/, 15_000);
      },
    );
  });

  test('a schedule window closing stops new work and unloads the model (scale-to-zero); the next one opening loads it and resumes (injected clock)', async () => {
    await put({ schedule: { timezone: 'UTC', windows: [{ start: '22:00', end: '06:00' }] } });
    await settle();
    expect((await job(30)).json.status).toBe('succeeded');
    await expectHeldThenServed(
      async () => {
        writeFileSync(clock, '2026-11-26T06:00:00Z');
        await runner.waitFor(/unloaded trd-tiny: outside the schedule \(scale-to-zero\)/, 15_000);
        await settle();
        // Dispatch sees a cold runner: the model on disk, nothing in memory.
        await expect(held()).resolves.toEqual({ loadedModels: [], diskModels: ['trd-tiny'] });
      },
      async () => writeFileSync(clock, '2026-11-26T22:00:00Z'),
    );
    // Loaded again (the log line is the whitelist test's too): the heartbeats say warm once it is.
    for (const until = Date.now() + 15_000; (await held()).loadedModels.length === 0 && Date.now() < until; ) await settle();
    await expect(held()).resolves.toEqual({ loadedModels: ['trd-tiny'], diskModels: [] });
    await put({});
  });

  /** How many of these jobs generated at the same moment on the runner (from their receipts and timings). */
  async function mostAtOnce(jobs: number): Promise<number> {
    const posted = await Promise.all(Array.from({ length: jobs }, () => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'at once', max_tokens: 24 })));
    const done = await Promise.all(posted.map((p) => api(stack, 'GET', `/v1/jobs/${p.json.id}?wait=60`)));
    const edges = done.flatMap(({ json }) => {
      expect(json).toMatchObject({ status: 'succeeded', worker_id: 'owned' });
      const end = Date.parse(json.receipt.envelope.finished_at);
      const start = end - json.timings.time_to_first_token_ms - json.timings.generation_ms;
      return [[start, 1], [end, -1]] as const;
    });
    let now = 0;
    let most = 0;
    // An end at the same millisecond as a start is not an overlap.
    for (const [, step] of edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])) most = Math.max(most, (now += step));
    return most;
  }

  test('max concurrent jobs caps the jobs at once across all its queues, without a restart', async () => {
    expect(await mostAtOnce(4)).toBe(2);
    await put({ max_concurrent_jobs: 1 });
    await settle();
    expect((await api(stack, 'GET', '/v1/dispatch/eligible?model=trd-tiny')).json.data[0]).toMatchObject({ worker_id: 'owned', load: { slots: 1 } });
    expect(await mostAtOnce(4)).toBe(1);
    await put({});
  });

  test('PATCH changes only the fields given, and refuses a bad one whole', async () => {
    await put({ pause_on_battery: true, models: ['trd-tiny'] });
    const patch = (body: unknown) => api(stack, 'PATCH', '/v1/runners/settings', body, token);
    expect((await patch({ max_concurrent_jobs: 2 })).json).toMatchObject({ pause_on_battery: true, models: ['trd-tiny'], max_concurrent_jobs: 2 });
    for (const [body, mentions] of [
      [{ max_concurrent_jobs: 0 }, /max_concurrent_jobs/],
      [{ models: ['trd-tiny'], paused: 'yes' }, /paused/],
      [{ colour: 'red' }, /colour/],
    ] as const) {
      const res = await patch(body);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(mentions);
    }
    expect((await api(stack, 'GET', '/v1/runners/settings', undefined, token)).json).toMatchObject({ pause_on_battery: true, max_concurrent_jobs: 2 });
    await put({});
  });

  test('invalid settings get a clear error and the previous settings stay', async () => {
    await put({ models: ['trd-tiny'], max_concurrent_jobs: 3 });
    const before = (await api(stack, 'GET', '/v1/runners/settings', undefined, token)).json;
    for (const [body, mentions] of [
      [{ schedule: { timezone: 'Mars/Olympus', windows: [{ start: '09:00', end: '17:00' }] } }, /IANA time zone/],
      [{ schedule: { timezone: 'UTC', windows: [{ start: '25:00', end: '17:00' }] } }, /HH:MM/],
      [{ schedule: { timezone: 'UTC', windows: [{ start: '09:00', end: '09:00' }] } }, /start and end must differ/],
      [{ models: ['gpt-17'] }, /not a catalog model/],
      [{ pause: true }, /unknown field.*pause/],
      [{ max_concurrent_jobs: 1.5 }, /max_concurrent_jobs/],
    ] as const) {
      const res = await put(body);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(mentions);
    }
    expect((await api(stack, 'GET', '/v1/runners/settings', undefined, token)).json).toEqual(before);
    expect(before).toMatchObject({ models: ['trd-tiny'], max_concurrent_jobs: 3 });
  });
});
