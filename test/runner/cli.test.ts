/** trd-worker's command line: bad flags and bad model files get clear errors and a non-zero exit. */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findModel } from '@trd/protocol';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cli-'));

function trdWorker(...args: string[]) {
  return trdWorkerWith({}, ...args);
}

function trdWorkerWith(extraEnv: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, ['gpu-runner/bin/trd-worker.js', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    // Anonymous mode (a worker id, no gateway), so these tests reach the checks they are about.
    env: { ...process.env, TRD_WORKER_HOME: dir, TRD_WORKER_CONFIG_DIR: dir, TRD_WORKER_ID: 'cli-test', ...extraEnv },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('trd-worker', () => {
  test('--help lists its commands', () => {
    const r = trdWorker('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/start/);
    expect(r.out).toMatch(/models/);
  });

  test('a mistyped command gets a suggestion', () => {
    const r = trdWorker('strat');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/Did you mean start\?/);
  });

  test.each([
    [['start', '--model', 'trd-tiny', '--threads', 'many'], /--threads must be a whole number/],
    [['start', '--model', 'trd-tiny', '--concurrency', '0'], /--concurrency must be a whole number from 1/],
    [['start', '--model', '/no/such/model.gguf'], /model file \/no\/such\/model.gguf does not exist/],
    [['start', '--model', 'gpt-17'], /"gpt-17" is neither a model file nor a catalog model key/],
    [['start', '--model', 'qwen2.5-0.5b-instruct', '--models-dir', dir], /trd-worker models pull qwen2.5-0.5b-instruct/],
    [['start', '--model', 'trd-tiny', '--load', 'lazy'], /Allowed choices are on-start, on-demand/],
    [['start', '--model', 'trd-tiny', '--models-dir', dir, '--gateway-url', 'http://127.0.0.1:1'], /--gateway-url needs --token/],
    [['start', '--model', 'trd-tiny', '--models-dir', dir, '--gateway-url', 'http://127.0.0.1:1', '--token', 'trd_rt_x'], /cannot reach the gateway at http:\/\/127\.0\.0\.1:1/],
    [['start', '--model', 'trd-tiny', '--model', 'trd-tiny', '--models-dir', dir], /model trd-tiny is given twice/],
    [['start', '--model', join(dir, 'a-folder.gguf')], /is not a regular file \(a directory\?\): pass the \.gguf file itself/],
  ])('start %j fails clearly', (args, message) => {
    mkdirSync(join(dir, 'a-folder.gguf'), { recursive: true });
    const r = trdWorker(...args);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  test('a damaged credentials file stops start with what to do, and is left as it was', () => {
    const config = mkdtempSync(join(tmpdir(), 'cli-config-'));
    const file = join(config, 'credentials.json');
    writeFileSync(file, '{"gateway_url": "http://gw", ');
    const r = trdWorkerWith({ TRD_WORKER_CONFIG_DIR: config, TRD_WORKER_ID: '' }, 'start', '--model', 'trd-tiny');
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`trd-worker: error: ${file} is not valid JSON: run \`trd-worker logout\` and \`trd-worker login\` again`);
    expect(readFileSync(file, 'utf8')).toBe('{"gateway_url": "http://gw", ');
  });

  test('a file that is not GGUF is refused before llama.cpp sees it', () => {
    const path = join(dir, 'fake.gguf');
    writeFileSync(path, 'not a model at all');
    const r = trdWorker('start', '--model', path, '--model-key', 'trd-tiny');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a GGUF file/);
  });

  test('a GGUF under a pinned key with other bytes is refused', () => {
    const path = join(dir, 'other.gguf');
    const made = trdWorker('models', 'make-tiny', '--seed', '5', '--out', path);
    expect(made.code).toBe(0);
    const r = trdWorker('start', '--model', path, '--model-key', 'trd-tiny');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is not the trd-tiny the network serves/);
  });

  test('models make-tiny writes the catalog model', () => {
    const out = join(dir, 'tiny.gguf');
    const r = trdWorker('models', 'make-tiny', '--out', out);
    expect(r.code).toBe(0);
    const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
    expect(sha).toBe(findModel('trd-tiny')!.sha256);
    expect(r.out).toContain(sha);
  });

  test('doctor reports what it detected, the class it picks and what it can reach', () => {
    const temporal = JSON.parse(process.env.TRD_TEST_SERVICES!).temporalAddress;
    const r = trdWorker('doctor', '--json', '--temporal-address', temporal, '--gateway-url', 'http://127.0.0.1:1');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out.trim().split('\n').at(-1)!);
    // This machine has no GPU: the CPU class, and the smallest catalog model.
    expect(report).toMatchObject({
      gpu: { backend: 'none (CPU)', names: [] },
      hardware_class: { key: 'cpu', gpu_layers: 0, concurrency: 1 },
      would_serve: ['qwen2.5-0.5b-instruct'],
      temporal: { address: temporal, reachable: true },
      gateway: { url: 'http://127.0.0.1:1', reachable: false },
    });
    expect(report.ram_mib).toBeGreaterThan(0);
    expect(report.cpu.cores).toBeGreaterThan(0);
    const human = trdWorker('doctor', '--temporal-address', '127.0.0.1:1');
    expect(human.out).toMatch(/class\s+no GPU \(CPU only\)/);
    expect(human.out).toMatch(/temporal\s+127\.0\.0\.1:1 NOT reachable/);
  });

  describe('start with no --model: the hardware class decides', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-models-'));
    test.each([
      ['{"gpu":false,"gpuMemoryMiB":0}', /no model to serve for this machine \(no GPU \(CPU only\)\): run `trd-worker models pull qwen2\.5-0\.5b-instruct`/],
      ['{"gpu":"cuda","gpuMemoryMiB":12288}', /\(12 GB \(RTX 3060 class\)\): run `trd-worker models pull qwen2\.5-7b-instruct`/],
      ['{"gpu":"cuda"}', /TRD_HARDWARE needs "gpu"/],
      ['not json', /TRD_HARDWARE must be JSON/],
    ])('TRD_HARDWARE=%s with nothing downloaded says what to pull', (hw, message) => {
      const r = trdWorkerWith({ TRD_HARDWARE: hw }, 'start', '--models-dir', empty);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(message);
    });

    test("serves the class's downloaded model with the class's context and concurrency", () => {
      const models = mkdtempSync(join(tmpdir(), 'class-models-'));
      // A stand-in file under the catalog name (nothing can be downloaded here); it is a valid GGUF.
      const made = trdWorker('models', 'make-tiny', '--out', join(models, 'qwen2.5-0.5b-instruct.gguf'));
      expect(made.code).toBe(0);
      const r = trdWorkerWith({ TRD_HARDWARE: '{"gpu":false,"gpuMemoryMiB":0}' }, 'start', '--models-dir', models, '--temporal-address', '127.0.0.1:1');
      expect(r.out).toMatch(/hardware class no GPU \(CPU only\): serving qwen2\.5-0\.5b-instruct, context 2048, 1 job\(s\) at once/);
      expect(r.err).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
    });
  });

  test('an unreachable Temporal is reported with the address to check', () => {
    const r = trdWorker('start', '--model', 'trd-tiny', '--models-dir', dir, '--temporal-address', '127.0.0.1:1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
  });

  describe('what a command loads', () => {
    const HEAVY = /\/node_modules\/(node-llama-cpp|@temporalio)\//;
    /** The modules `trd-worker <args>` resolved (support/loaded-modules.mjs records them), and its result. */
    function loadedBy(...args: string[]) {
      const file = join(dir, `loaded-${args.join('-').replace(/[^a-z]/g, '')}.txt`);
      writeFileSync(file, '');
      const r = spawnSync(process.execPath, ['--import', fileURLToPath(new URL('../support/loaded-modules.mjs', import.meta.url)), 'gpu-runner/bin/trd-worker.js', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        // Not logged in, and a gateway nobody listens on: each command answers from what it has locally.
        env: { ...process.env, TRD_WORKER_HOME: dir, TRD_WORKER_CONFIG_DIR: join(dir, 'nobody'), TRD_WORKER_ID: '', TRD_RUNNER_TOKEN: '', TRD_GATEWAY_URL: 'http://127.0.0.1:9', LOADED_MODULES_FILE: file },
        timeout: 60_000,
      });
      return { code: r.status, err: r.stderr, modules: readFileSync(file, 'utf8').split('\n').filter(Boolean) };
    }

    test.each([[['--help']], [['status']], [['settings']], [['login', '--token', 'not-a-token']], [['login', '--help']]])('%j loads neither llama.cpp nor the Temporal SDK', (args) => {
      const r = loadedBy(...args);
      // The record is real: the CLI's own modules are in it.
      expect(r.modules).toContainEqual(expect.stringMatching(/\/commander\//));
      expect(r.modules.filter((m) => HEAVY.test(m))).toEqual([]);
    });

    test('start loads both when it starts serving (so the check above can see them)', () => {
      const r = loadedBy('start', '--worker-id', 'cli-test', '--model', join(dir, 'missing.gguf'), '--temporal-address', '127.0.0.1:1');
      expect(r.code).toBe(1);
      expect(r.modules).toContainEqual(expect.stringMatching(/\/node_modules\/node-llama-cpp\//));
      expect(r.modules).toContainEqual(expect.stringMatching(/\/node_modules\/@temporalio\/worker\//));
    });
  });
});
