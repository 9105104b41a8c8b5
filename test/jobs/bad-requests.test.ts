/** Bad input at the gateway: a 4xx that says what is wrong, and no job anywhere. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRunnerToken } from '../../gateway/runners.js';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ settings: { maxPromptBytes: 1024 } });
});

afterAll(async () => {
  await stack?.stop();
});

const good = { model: 'trd-tiny', prompt: 'hello', max_tokens: 4 };

const cases: Array<{ name: string; body: unknown; key?: string | null; header?: string; status: number; code: string; mentions: RegExp }> = [
  { name: 'missing model', body: { prompt: 'x', max_tokens: 1 }, status: 400, code: 'invalid_request', mentions: /model is required/ },
  { name: 'missing prompt', body: { model: 'trd-tiny', max_tokens: 1 }, status: 400, code: 'invalid_request', mentions: /prompt is required/ },
  { name: 'missing max_tokens', body: { model: 'trd-tiny', prompt: 'x' }, status: 400, code: 'invalid_request', mentions: /max_tokens is required/ },
  { name: 'max_tokens as a string', body: { ...good, max_tokens: '4' }, status: 400, code: 'invalid_request', mentions: /max_tokens.*number/ },
  { name: 'max_tokens not an integer', body: { ...good, max_tokens: 2.5 }, status: 400, code: 'invalid_request', mentions: /max_tokens/ },
  { name: 'max_tokens zero', body: { ...good, max_tokens: 0 }, status: 400, code: 'invalid_request', mentions: /max_tokens/ },
  { name: 'max_tokens over the model limit', body: { ...good, max_tokens: 100000 }, status: 400, code: 'invalid_request', mentions: /at most 512/ },
  { name: 'temperature out of range', body: { ...good, temperature: 9 }, status: 400, code: 'invalid_request', mentions: /temperature/ },
  { name: 'negative seed', body: { ...good, seed: -1 }, status: 400, code: 'invalid_request', mentions: /seed/ },
  { name: "seed 2^32-1 (llama.cpp's random seed)", body: { ...good, seed: 2 ** 32 - 1 }, status: 400, code: 'invalid_request', mentions: /seed: must be at most 4294967294/ },
  { name: 'unknown trust tier', body: { ...good, min_tier: 'gold' }, status: 400, code: 'invalid_request', mentions: /min_tier.*probation.*verified.*trusted/ },
  { name: 'empty prompt', body: { ...good, prompt: '' }, status: 400, code: 'invalid_request', mentions: /prompt/ },
  { name: 'unknown field', body: { ...good, max_token: 3 }, status: 400, code: 'invalid_request', mentions: /unknown field.*max_token/ },
  { name: 'body is an array', body: [good], status: 400, code: 'invalid_request', mentions: /object/ },
  { name: 'body is not JSON', body: '{"model": ', status: 400, code: 'invalid_json', mentions: /not valid JSON/ },
  { name: 'unknown model', body: { ...good, model: 'gpt-17' }, status: 404, code: 'model_not_found', mentions: /gpt-17/ },
  { name: 'oversized prompt', body: { ...good, prompt: 'é'.repeat(600) }, status: 413, code: 'prompt_too_large', mentions: /1200 bytes; the limit is 1024/ },
  { name: 'no API key', body: good, key: null, status: 401, code: 'missing_api_key', mentions: /Authorization: Bearer/ },
  { name: 'wrong API key', body: good, key: 'trd_sk_not-a-real-key', status: 401, code: 'invalid_api_key', mentions: /not valid/ },
];

describe('POST /v1/jobs rejects', () => {
  test.each(cases)('$name', async ({ body, key, status, code, mentions }) => {
    const res = await api(stack, 'POST', '/v1/jobs', body, key === undefined ? stack.apiKey : key);
    expect({ status: res.status, code: res.json?.error?.code }).toEqual({ status, code });
    expect(res.json.error.message).toMatch(mentions);
    expect(res.json.error.type).toEqual(expect.any(String));
  });

  test('a malformed Authorization header', async () => {
    const res = await fetch(`${stack.baseUrl}/v1/jobs`, { method: 'POST', headers: { authorization: 'Basic abc', 'content-type': 'application/json' }, body: JSON.stringify(good) });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('invalid_authorization');
  });

  test('a wait that is not a number, before anything is created', async () => {
    const res = await api(stack, 'POST', '/v1/jobs?wait=soon', good);
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('wait');
  });

  test('and none of them created a job or a workflow', async () => {
    expect(await stack.db.job.count()).toBe(0);
    const workflows = [];
    for await (const wf of stack.client.workflow.list()) workflows.push(wf);
    expect(workflows).toHaveLength(0);
  });
});

describe('GET /v1/jobs/:id rejects', () => {
  test('an id that is not a job id', async () => {
    const res = await api(stack, 'GET', '/v1/jobs/..%2F..%2Fetc');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('job_not_found');
  });

  test('a job that does not exist', async () => {
    const res = await api(stack, 'GET', `/v1/jobs/job_${'0'.repeat(32)}`);
    expect(res.status).toBe(404);
  });

  test('a wait that is not a number', async () => {
    const res = await api(stack, 'GET', `/v1/jobs/job_${'0'.repeat(32)}?wait=soon`);
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('wait');
  });
});

test('a revoked API key is refused', async () => {
  const key = await stack.newApiKey('short-lived');
  await stack.db.apiKey.updateMany({ where: { prefix: key.slice(0, 12) }, data: { revokedAt: new Date() } });
  const res = await api(stack, 'POST', '/v1/jobs', good, key);
  expect(res.status).toBe(401);
  expect(res.json.error.code).toBe('invalid_api_key');
});

test('API keys are stored hashed, never in the clear', async () => {
  const rows = await stack.db.apiKey.findMany();
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(stack.apiKey);
  }
});

describe('runner heartbeats', () => {
  const beat = { state: 'idle', loaded_models: ['trd-tiny'], disk_models: [], running_jobs: 0, slots: 1 };

  test('need a runner token, and a customer key is not one', async () => {
    const none = await api(stack, 'POST', '/v1/runners/heartbeat', beat, null);
    expect({ status: none.status, code: none.json.error.code }).toEqual({ status: 401, code: 'missing_runner_token' });
    const customer = await api(stack, 'POST', '/v1/runners/heartbeat', beat, stack.apiKey);
    expect({ status: customer.status, code: customer.json.error.code }).toEqual({ status: 401, code: 'invalid_runner_token' });
  });

  test('with a bad body are refused and change nothing', async () => {
    const token = await createRunnerToken(stack.db, 'hb-check');
    const before = await stack.db.runner.findUnique({ where: { id: 'hb-check' } });
    for (const [body, mentions] of [
      [{ ...beat, running_jobs: -1 }, /running_jobs/],
      [{ ...beat, state: 'partying' }, /state/],
      [{ ...beat, slots: 0 }, /slots/],
      [{ ...beat, extra: 1 }, /unknown field.*extra/],
      [{ ...beat, runner_version: 'latest; rm -rf /' }, /runner_version/],
    ] as const) {
      const res = await api(stack, 'POST', '/v1/runners/heartbeat', body, token);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(mentions);
    }
    expect(await stack.db.runner.findUnique({ where: { id: 'hb-check' } })).toEqual(before);
    const ok = await api(stack, 'POST', '/v1/runners/heartbeat', beat, token);
    expect(ok.json).toEqual({
      runner_id: 'hb-check',
      tier: 'probation',
      heartbeat_interval_ms: stack.settings.dispatch.runnerHeartbeatIntervalMs,
      settings: { paused: false, pause_on_battery: false, schedule: null, models: null, max_concurrent_jobs: null },
      shadowbanned: null,
      update: null,
      fleet: null,
    });
  });
});
