/** A job over HTTP, end to end on the real stack: gateway, Temporal, runner with llama.cpp, PostgreSQL. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { MAX_SEED, canonicalize, publicKeyFromPem, verifyReceipt, workflowIdForJob, type SignedReceipt } from '@trd/protocol';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner();
});

afterAll(async () => {
  await stack?.stop();
});

async function runJob(body: Record<string, unknown>) {
  const created = await api(stack, 'POST', '/v1/jobs', body);
  expect(created.status).toBe(202);
  expect(created.json).toMatchObject({ id: expect.stringMatching(/^job_[0-9a-f]{32}$/), status: 'queued' });
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=30`);
  expect(done.status).toBe(200);
  return done.json;
}

describe('a job submitted over HTTP', () => {
  test('completes with output, usage, timings and a receipt', async () => {
    const job = await runJob({ model: 'trd-tiny', prompt: 'Hello, network', max_tokens: 24 });
    expect(job.status).toBe('succeeded');
    expect(job.output.length).toBeGreaterThan(0);
    expect(job.finish_reason).toBe('length');
    expect(job.usage.completion_tokens).toBe(24);
    expect(job.usage.prompt_tokens).toBeGreaterThan(1);
    expect(job.worker_id).toBe('test-runner-1');
    for (const k of ['queue_wait_ms', 'model_load_ms', 'time_to_first_token_ms', 'generation_ms']) {
      expect(Number.isInteger(job.timings[k]) && job.timings[k] >= 0).toBe(true);
    }
    const env = job.receipt.envelope;
    expect(env).toMatchObject({ v: 1, job_id: job.id, model: 'trd-tiny', worker_id: 'test-runner-1', completion_tokens: 24 });
    expect(env.prompt_tokens).toBe(job.usage.prompt_tokens);
    expect(job.status).toBe('succeeded');
  });

  test('greedy decoding with the same seed gives the same output twice', async () => {
    const body = { model: 'trd-tiny', prompt: 'The same prompt, twice', max_tokens: 40, temperature: 0, seed: 7 };
    const [a, b] = [await runJob(body), await runJob(body)];
    expect(a.output).toBe(b.output);
    expect(a.receipt.envelope.output_sha256).toBe(b.receipt.envelope.output_sha256);
    expect(a.id).not.toBe(b.id);
  });

  test('sampling with a fixed seed reproduces, and a different seed differs', async () => {
    const body = { model: 'trd-tiny', prompt: 'Sample me', max_tokens: 40, temperature: 1.5 };
    const [a, b, c] = [await runJob({ ...body, seed: 1 }), await runJob({ ...body, seed: 1 }), await runJob({ ...body, seed: 2 })];
    expect(a.output).toBe(b.output);
    expect(c.output).not.toBe(a.output);
  });

  test('seeds past the signed 32-bit range up to MAX_SEED are stored and reproduce; MAX_SEED + 1 is refused on both APIs', async () => {
    const body = { model: 'trd-tiny', prompt: 'Seeds at the edge', max_tokens: 16, temperature: 1 };
    for (const seed of [2 ** 31 - 1, 2 ** 31, MAX_SEED]) {
      const [a, b] = [await runJob({ ...body, seed }), await runJob({ ...body, seed })];
      expect({ seed, a: a.status, b: b.status }).toEqual({ seed, a: 'succeeded', b: 'succeeded' });
      expect(a.output).toBe(b.output);
      expect((await stack.db.job.findUniqueOrThrow({ where: { id: a.id } })).seed).toBe(BigInt(seed));
    }
    // Before the bigint column, this passed validation and the insert failed: a 500.
    const chat = await api(stack, 'POST', '/v1/chat/completions', { model: 'trd-tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: MAX_SEED });
    expect(chat.status).toBe(200);
    const jobs = await stack.db.job.count();
    for (const [path, extra] of [['/v1/jobs', { prompt: 'x', max_tokens: 4 }], ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }]] as const) {
      const refused = await api(stack, 'POST', path, { model: 'trd-tiny', ...extra, seed: MAX_SEED + 1 });
      expect({ path, status: refused.status }).toEqual({ path, status: 400 });
      expect(refused.json.error.message).toMatch(/seed.*at most 4294967294/);
    }
    expect(await stack.db.job.count()).toBe(jobs);
  });

  test('POST ?wait returns the finished job in one round trip', async () => {
    const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'one trip', max_tokens: 4 });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('succeeded');
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.json.id}`);
  });

  test('the job is a workflow whose id is the job id, and its row is in PostgreSQL', async () => {
    const job = await runJob({ model: 'trd-tiny', prompt: 'where am I', max_tokens: 3 });
    const described = await stack.client.workflow.getHandle(workflowIdForJob(job.id)).describe();
    expect(described.status.name).toBe('COMPLETED');
    const row = await stack.db.job.findUnique({ where: { id: job.id }, include: { receipt: true } });
    expect(row?.status).toBe('succeeded');
    expect(row?.receipt?.kid).toBe(stack.signingKey.kid);
  });

  test("another customer cannot see the job", async () => {
    const job = await runJob({ model: 'trd-tiny', prompt: 'mine', max_tokens: 2 });
    const other = await stack.newApiKey('someone else');
    const res = await api(stack, 'GET', `/v1/jobs/${job.id}`, undefined, other);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('job_not_found');
  });
});

describe('the receipt', () => {
  let receipt: SignedReceipt;
  let pem: string;

  beforeAll(async () => {
    const job = await runJob({ model: 'trd-tiny', prompt: 'Sign this', max_tokens: 8 });
    const fetched = await api(stack, 'GET', `/v1/jobs/${job.id}/receipt`);
    expect(fetched.status).toBe(200);
    receipt = fetched.json;
    const keyRes = await fetch(`${stack.baseUrl}/keys/${receipt.envelope.kid}.public.pem`);
    expect(keyRes.status).toBe(200);
    pem = await keyRes.text();
  });

  test('verifies with the published public key', async () => {
    expect(await verifyReceipt(receipt, publicKeyFromPem(pem))).toEqual({ ok: true, kid: receipt.envelope.kid });
  });

  test('verifies with an independent Ed25519 implementation (OpenSSL through node:crypto)', () => {
    const bytes = Buffer.from(canonicalize(receipt.envelope));
    const ok = nodeVerify(null, bytes, createPublicKey(pem), Buffer.from(receipt.signature, 'base64'));
    expect(ok).toBe(true);
  });

  test('fails after changing any one field', async () => {
    const key = publicKeyFromPem(pem);
    const env = receipt.envelope as unknown as Record<string, unknown>;
    for (const field of Object.keys(env)) {
      const value = env[field];
      const changed =
        typeof value === 'number' ? value + 1 : typeof value === 'string' && /^[0-9a-f]{64}$/.test(value) ? value.replace(/^./, (c) => (c === '0' ? '1' : '0')) : typeof value === 'string' && /Z$/.test(value) ? value.replace(/\d(?=Z$)/, (d) => String((Number(d) + 1) % 10)) : `${value}x`;
      const check = await verifyReceipt({ ...receipt, envelope: { ...env, [field]: changed } }, key);
      expect({ field, ok: check.ok }).toEqual({ field, ok: false });
    }
  });

  test('is listed under /keys', async () => {
    const res = await fetch(`${stack.baseUrl}/keys`);
    const body = await res.json();
    expect(body.keys.map((k: { kid: string }) => k.kid)).toContain(receipt.envelope.kid);
  });
});
