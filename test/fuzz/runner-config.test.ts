/**
 * The runner's own inputs: environment settings (TRD_RUNNER_FAULTS,
 * TRD_HARDWARE, TRD_*_MS), the credential file, schedule windows, every CLI
 * flag of every command, and the gateway's heartbeat answer. Bad input is an
 * Error that names what is wrong, never a TypeError from deep inside.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScheduleWindow } from '@trd/protocol';
import { buildCli } from '../../gpu-runner/src/cli.js';
import { readCredentials } from '../../gpu-runner/src/credentials.js';
import { parseRunnerFaults } from '../../gpu-runner/testing/faults.js';
import { parseHeartbeatAnswer } from '../../gpu-runner/src/gateway-client.js';
import { parseOwnerSettings, servingDecision } from '../../gpu-runner/src/owner-settings.js';
import { detectHardware } from '../../gpu-runner/src/zero-config.js';
import { fuzz, hostileJson, hostileString } from './fuzz-settings.js';

const dir = mkdtempSync(join(tmpdir(), 'fuzz-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An error a person can act on: an Error (not a TypeError/RangeError from a missing check) with a message. */
function expectClearError(err: unknown, mentions?: RegExp): void {
  expect(err).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(TypeError);
  expect(err).not.toBeInstanceOf(RangeError);
  expect((err as Error).message.length).toBeGreaterThan(5);
  if (mentions) expect((err as Error).message).toMatch(mentions);
}

function outcome<T>(run: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error };
  }
}

const VALID_SETTINGS = {
  paused: false,
  pause_on_battery: true,
  schedule: { timezone: 'Europe/Berlin', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' }] },
  models: ['trd-tiny'],
  max_concurrent_jobs: 2,
};
const VALID_ANSWER = {
  runner_id: 'runner-abc',
  tier: 'verified',
  heartbeat_interval_ms: 1000,
  settings: VALID_SETTINGS,
  shadowbanned: null,
  update: { level: 'recommended', command: 'npm install -g trd-worker@0.2.0', message: 'trd-worker 0.2.0 is out' },
  fleet: null,
};

/** A copy of `valid` with one field (possibly nested) replaced by a hostile value or removed. */
function mutated(valid: object, paths: string[][]): fc.Arbitrary<unknown> {
  return fc.tuple(fc.constantFrom(...paths), fc.option(hostileJson, { nil: undefined })).map(([path, value]) => {
    const out: any = JSON.parse(JSON.stringify(valid));
    let at = out;
    for (const p of path.slice(0, -1)) at = at[p];
    if (value === undefined) delete at[path.at(-1)!];
    else at[path.at(-1)!] = value;
    return out;
  });
}
const SETTINGS_PATHS = [['paused'], ['pause_on_battery'], ['schedule'], ['schedule', 'timezone'], ['schedule', 'windows'], ['schedule', 'windows', '0'], ['schedule', 'windows', '0', 'days'], ['schedule', 'windows', '0', 'start'], ['schedule', 'windows', '0', 'end'], ['models'], ['max_concurrent_jobs']];

describe('environment settings', () => {
  test('TRD_RUNNER_FAULTS: faults with whole, bounded numbers, or an Error naming the variable', async () => {
    const spec = fc.oneof(
      hostileString,
      fc.array(fc.tuple(fc.constantFrom('token-delay-ms', 'stall-after-tokens', 'load-delay-ms', 'bad-result', 'nope', ''), fc.oneof(hostileString, fc.nat().map(String))).map(([k, v]) => `${k}=${v}`), { maxLength: 4 }).map((parts) => parts.join(',')),
    );
    await fuzz(
      fc.property(spec, (text) => {
        const r = outcome(() => parseRunnerFaults(text));
        if (!r.ok) return expectClearError(r.error, /TRD_RUNNER_FAULTS/);
        if (r.value === undefined) return;
        for (const n of [r.value.tokenDelayMs, r.value.loadDelayMs, r.value.stallAfterTokens ?? 0]) expect(Number.isSafeInteger(n) && n >= 0 && n < 2 ** 31).toBe(true);
      }),
    );
  });

  test('TRD_HARDWARE: a whole number of MiB, or an Error naming the variable', async () => {
    const text = fc.oneof(hostileString, hostileJson.map((v) => JSON.stringify(v) ?? 'undefined'), mutated({ gpu: 'cuda', gpuMemoryMiB: 12288 }, [['gpu'], ['gpuMemoryMiB']]).map((v) => JSON.stringify(v)));
    await fuzz(
      // Empty means "detect", which asks llama.cpp: not this test's business.
      fc.asyncProperty(text.filter((t) => t !== ''), async (value) => {
        try {
          const hw = await detectHardware({ TRD_HARDWARE: value });
          expect(Number.isSafeInteger(hw.gpuMemoryMiB) && hw.gpuMemoryMiB >= 0).toBe(true);
          expect(hw.gpu === false || typeof hw.gpu === 'string').toBe(true);
        } catch (err) {
          expectClearError(err, /TRD_HARDWARE/);
        }
      }),
    );
  });

  test('the credential file: null when absent, the credential, or an Error naming the file and the fix', async () => {
    const file = join(dir, 'credentials.json');
    const text = fc.oneof(
      hostileString,
      hostileJson.map((v) => JSON.stringify(v) ?? ''),
      mutated({ gateway_url: 'http://127.0.0.1:8080', runner_id: 'runner-1', token: 'trd_rt_x' }, [['gateway_url'], ['runner_id'], ['token']]).map((v) => JSON.stringify(v)),
    );
    await fuzz(
      fc.asyncProperty(text, async (content) => {
        writeFileSync(file, content);
        try {
          const c = await readCredentials(file);
          for (const k of ['gateway_url', 'runner_id', 'token'] as const) expect(typeof c![k]).toBe('string');
        } catch (err) {
          expectClearError(err, /credentials\.json.*trd-worker/);
        }
      }),
    );
  });

  test('TRD_*_MS defaults of `trd-worker start`: whole milliseconds a timer can hold, or an Error naming the variable', async () => {
    const names = ['TRD_SEQUENCE_WAIT_MS', 'TRD_STALL_TIMEOUT_MS', 'TRD_SHUTDOWN_GRACE_MS'];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    try {
      await fuzz(
        fc.property(fc.constantFrom(...names), fc.oneof(hostileString, fc.bigInt({ min: -1n, max: 2n ** 64n }).map(String)), (name, value) => {
          process.env[name] = value;
          const r = outcome(() => buildCli().commands.find((c) => c.name() === 'start')!.opts());
          delete process.env[name];
          if (!r.ok) return expectClearError(r.error, new RegExp(name));
          for (const v of [r.value.sequenceWaitMs, r.value.stallTimeoutMs, r.value.shutdownGraceMs]) expect(Number.isSafeInteger(v) && v >= 1 && v < 2 ** 31).toBe(true);
        }),
      );
    } finally {
      for (const n of names) if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });
});

describe('the command line', () => {
  /** The CLI with every action a no-op and every error thrown, not printed or exited on. */
  function parseOnly(): ReturnType<typeof buildCli> {
    const root = buildCli();
    const quiet = (c: typeof root) => {
      c.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
      if (c.commands.length === 0 || c === root) c.action(() => {});
      c.commands.forEach(quiet);
    };
    quiet(root);
    return root;
  }
  const leaves = (c: ReturnType<typeof buildCli>, path: string[] = []): { path: string[]; flags: string[] }[] =>
    c.commands.length ? c.commands.flatMap((sub) => leaves(sub, [...path, sub.name()])) : [{ path, flags: c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)) }];
  const commands = leaves(buildCli());

  test('every flag of every command with hostile values: parsed, or a commander error that says what is wrong', async () => {
    const argv = fc.constantFrom(...commands).chain(({ path, flags }) =>
      fc.array(fc.oneof(fc.constantFrom(...flags, '--nope', '-'), hostileString, fc.integer().map(String), fc.constantFrom('0', '-1', '1.5', '1e3', '99999999999999999999', 'auto', 'on', 'all')), { maxLength: 6 }).map((rest) => [...path, ...rest]),
    );
    await fuzz(
      fc.asyncProperty(argv, async (args) => {
        try {
          await parseOnly().parseAsync(args, { from: 'user' });
        } catch (err) {
          // The runner's own commander (gpu-runner's dependency, not the root's) made it: known by its code.
          expect((err as { code?: string }).code).toMatch(/^commander\./);
          expect((err as Error).message.length).toBeGreaterThan(5);
        }
      }),
    );
  });

  test('schedule windows as typed: a window of real times, or an Error that shows how to write one', async () => {
    const text = fc.oneof(
      hostileString,
      fc.tuple(fc.constantFrom('', 'mon-fri ', 'sat,sun ', 'xyz ', 'mon- ', '-fri ', ',,, '), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 }), fc.nat({ max: 99 })).map(
        ([d, h1, m1, h2, m2]) => `${d}${h1}:${String(m1).padStart(2, '0')}-${h2}:${String(m2).padStart(2, '0')}`,
      ),
    );
    await fuzz(
      fc.property(text, (t) => {
        const r = outcome(() => parseScheduleWindow(t));
        if (!r.ok) return expectClearError(r.error);
        expect(r.value.start).toMatch(/^([01]\d|2[0-3]):[0-5]\d$/);
        expect(r.value.end).toMatch(/^([01]\d|2[0-3]):[0-5]\d$/);
        expect(r.value.start).not.toBe(r.value.end);
        for (const d of r.value.days ?? []) expect(d >= 0 && d <= 6).toBe(true);
      }),
    );
  });
});

describe("the gateway's heartbeat answer", () => {
  test('owner settings: applied only when every field is sound, else an Error naming the field', async () => {
    await fuzz(
      fc.property(fc.oneof(hostileJson, mutated(VALID_SETTINGS, SETTINGS_PATHS)), fc.date({ min: new Date(0), max: new Date(2 ** 42) }), fc.boolean(), (value, now, battery) => {
        const r = outcome(() => parseOwnerSettings(value));
        if (!r.ok) return expectClearError(r.error, /owner settings: /);
        // Settings that passed can be acted on at any instant.
        expect(typeof servingDecision(r.value, now, battery).serve).toBe('boolean');
      }),
    );
  });

  test('the whole answer: used only when sound, else an Error naming the field', async () => {
    expect(parseHeartbeatAnswer(VALID_ANSWER)).toEqual(VALID_ANSWER);
    // A gateway from before fleets says nothing of one: no fleet, not a refusal.
    const { fleet: _none, ...beforeFleets } = VALID_ANSWER;
    expect(parseHeartbeatAnswer(beforeFleets)).toEqual(VALID_ANSWER);
    const paths = [['runner_id'], ['tier'], ['heartbeat_interval_ms'], ['settings'], ['shadowbanned'], ['update'], ['update', 'level'], ['update', 'message'], ...SETTINGS_PATHS.map((p) => ['settings', ...p])];
    await fuzz(
      fc.property(fc.oneof(hostileJson, mutated(VALID_ANSWER, paths)), (value) => {
        const r = outcome(() => parseHeartbeatAnswer(value));
        if (!r.ok) return expectClearError(r.error);
        expect(Number.isSafeInteger(r.value.heartbeat_interval_ms) && r.value.heartbeat_interval_ms >= 1).toBe(true);
        expect(typeof servingDecision(r.value.settings, new Date(), false).serve).toBe('boolean');
      }),
    );
  });
});
