/** trd-worker's owner commands on a real gateway: models pull/list/rm, bench (filed), status (today's jobs and credits), settings. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTrdWorker, type ManagedProcess } from '../../devstack/processes.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'owner-'));
const modelsDir = join(home, 'models');
const env = { TRD_WORKER_HOME: home, TRD_WORKER_CONFIG_DIR: home, TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: '' };
let stack: TestStack;
let daemon: ManagedProcess | undefined;

beforeAll(async () => {
  stack = await startStack();
  const token = await createRunnerToken(stack.db, 'owner-box');
  writeFileSync(join(home, 'credentials.json'), JSON.stringify({ gateway_url: stack.baseUrl, runner_id: 'owner-box', token }), { mode: 0o600 });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.stop();
});

/** Runs trd-worker to its end without blocking this process: the gateway under test lives here. */
async function trdWorker(...args: string[]) {
  const child = spawn(process.execPath, ['gpu-runner/bin/trd-worker.js', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const json = () => {
    if (code !== 0) throw new Error(`trd-worker ${args.join(' ')} exited ${code}: ${err}`);
    return JSON.parse(out.trim().split('\n').at(-1)!);
  };
  return { code, out, err, json };
}

test('models pull, list and rm', async () => {
  expect((await trdWorker('models', 'list', '--models-dir', modelsDir)).out).toMatch(/no models in/);
  const pulled = await trdWorker('models', 'pull', 'trd-tiny', '--models-dir', modelsDir);
  expect(pulled.code).toBe(0);
  expect(pulled.out).toMatch(/trd-tiny: .*trd-tiny\.gguf \(0\.6 MiB, sha256 9c7a9e84/);
  const listed = (await trdWorker('models', 'list', '--models-dir', modelsDir, '--json')).json();
  expect(listed).toEqual([expect.objectContaining({ key: 'trd-tiny', quantization: 'F32', in_catalog: true, fits_in_vram: 'cpu' })]);

  // A local file is taken in under the key it serves, checked first.
  const other = join(home, 'elsewhere');
  expect((await trdWorker('models', 'pull', join(modelsDir, 'trd-tiny.gguf'), '--key', 'trd-tiny', '--models-dir', other)).code).toBe(0);
  const notGguf = join(home, 'junk.gguf');
  writeFileSync(notGguf, 'junk');
  const refused = await trdWorker('models', 'pull', notGguf, '--key', 'qwen2.5-0.5b-instruct', '--models-dir', other);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/not a GGUF file/);
  expect(existsSync(join(other, 'qwen2.5-0.5b-instruct.gguf'))).toBe(false);
  expect(existsSync(join(other, 'qwen2.5-0.5b-instruct.gguf.part'))).toBe(false);
  expect((await trdWorker('models', 'pull', 'gpt-17', '--models-dir', other)).err).toMatch(/"gpt-17" is not a catalog model/);

  expect((await trdWorker('models', 'rm', 'trd-tiny', '--models-dir', other)).out).toMatch(/removed/);
  expect((await trdWorker('models', 'rm', 'trd-tiny', '--models-dir', other)).err).toMatch(/no model trd-tiny in/);
});

test('bench runs the standard benchmark and files it with the gateway', async () => {
  const r = await trdWorker('bench', '--runs', '3', '--tokens', '32', '--models-dir', modelsDir, '--threads', '1', '--json');
  expect(r.code).toBe(0);
  const result = r.json();
  expect(result).toMatchObject({ model: 'trd-tiny', runs: 3, hardware_class: 'cpu', filed: true });
  expect(result.generation_tokens_per_second.median).toBeGreaterThan(0);
  expect(result.generation_tokens_per_second.min).toBeLessThanOrEqual(result.generation_tokens_per_second.median);
  expect(result.prompt_tokens_per_second.max).toBeGreaterThanOrEqual(result.prompt_tokens_per_second.median);
  expect(result.seconds).toBeLessThan(60);
  const row = await stack.db.runner.findUniqueOrThrow({ where: { id: 'owner-box' } });
  expect(row).toMatchObject({ benchClass: 'cpu', benchTokensPerSecond: result.generation_tokens_per_second.median });
});

test("status shows the daemon, its state and today's jobs and credits", async () => {
  expect((await trdWorker('status', '--json')).json()).toMatchObject({ running: false, state: 'stopped', runner_id: 'owner-box', logged_in: true });
  daemon = startTrdWorker('owner-box', ['start', '--model', 'trd-tiny', '--models-dir', modelsDir, ...stack.runnerConnectionArgs()], { env });
  await daemon.waitFor(/serving trd-tiny as owner-box/, 60_000);
  for (const i of [1, 2]) {
    expect((await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `status ${i}`, max_tokens: 8 })).json.worker_id).toBe('owner-box');
  }
  const status = (await trdWorker('status', '--json')).json();
  expect(status).toMatchObject({ running: true, pid: daemon.child.pid, runner_id: 'owner-box', tier: 'probation', today: { jobs: 2 } });
  expect(status.current_jobs).toEqual([]);
  expect(['idle', 'busy']).toContain(status.state);
  expect(status.today.earned_microcredits).toBeGreaterThan(0);
  const text = (await trdWorker('status')).out;
  expect(text).toMatch(/today\s+2 job\(s\), 0\.\d{6} credits earned/);
  // A new runner with no failed audit: the 90-day badge counts down from its first day.
  expect(text).toMatch(/badge\s+90-day clean audits in (89|90) day\(s\)/);
  expect(text).not.toContain('SHADOWBANNED');
  expect(text).toMatch(/audits\s+0 passed, 0 failed/);

  await daemon.stop();
  expect((await trdWorker('status', '--json')).json()).toMatchObject({ running: false, state: 'stopped' });
});

test('settings shows and changes the settings the gateway keeps for this runner', async () => {
  const set = (...args: string[]) => trdWorker('settings', 'set', ...args, '--json');
  expect((await trdWorker('settings', '--json')).json()).toEqual({ paused: false, pause_on_battery: false, schedule: null, models: null, max_concurrent_jobs: null });
  expect((await set('--schedule', 'mon-fri 9:00-17:00', '--schedule', 'sat,sun 22:00-06:00', '--timezone', 'Europe/Berlin', '--pause-on-battery', 'on')).json()).toMatchObject({
    pause_on_battery: true,
    schedule: { timezone: 'Europe/Berlin', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' }, { days: [0, 6], start: '22:00', end: '06:00' }] },
  });
  // Each change keeps the others.
  expect((await set('--pause', '--models', 'trd-tiny', '--max-concurrent-jobs', '2')).json()).toMatchObject({ paused: true, pause_on_battery: true, models: ['trd-tiny'], max_concurrent_jobs: 2, schedule: { timezone: 'Europe/Berlin' } });
  const shown = (await trdWorker('settings')).out;
  expect(shown).toMatch(/paused\s+yes/);
  expect(shown).toMatch(/schedule\s+mon,tue,wed,thu,fri 09:00-17:00; sun,sat 22:00-06:00 \(Europe\/Berlin\)/);

  // The gateway's refusal reaches the owner in one line, and nothing changes.
  for (const [args, says] of [
    [['--models', 'gpt-17'], /not a catalog model/],
    [['--schedule', '09:00-17:00', '--timezone', 'Mars/Olympus'], /IANA time zone/],
    [['--schedule', '25:00-17:00'], /HH:MM/],
    [['--max-concurrent-jobs', 'lots'], /--max-concurrent-jobs must be a whole number/],
    [[], /nothing to change/],
  ] as const) {
    const r = await set(...args);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(says);
  }
  expect((await set('--resume', '--no-schedule', '--models', 'all', '--max-concurrent-jobs', 'auto')).json()).toEqual({ paused: false, pause_on_battery: true, schedule: null, models: null, max_concurrent_jobs: null });
  const row = await stack.db.runner.findUniqueOrThrow({ where: { id: 'owner-box' } });
  expect(row.settings).toMatchObject({ pause_on_battery: true, paused: false });
});
