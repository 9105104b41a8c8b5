/**
 * The real models through the whole stack (gateway, Temporal, runner
 * endpoint, one runner serving both), with the official `openai` client.
 * SmolLM2 is an instruct model: its greedy answer is checked for a fact
 * (random weights would fail it). Gemma 3 270M is a base model: it is the
 * second architecture and a cold load, never asked for facts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { findModel } from '@trd/protocol';
import { checkSignedCatalog } from '../../gpu-runner/src/catalog-check.js';
import { resolveModel } from '../../gpu-runner/src/model-files.js';
import { api, startStack, type TestStack } from '../support/stack.js';
import { GEMMA, SMOLLM2, ensureRealModels } from './real-models.js';

let stack: TestStack;
let client: OpenAI;
let modelsDir: string;
const question = [{ role: 'user' as const, content: 'What is the capital of France? Answer in one sentence.' }];

beforeAll(async () => {
  modelsDir = await ensureRealModels();
  stack = await startStack({ jobLimits: { heartbeatTimeoutMs: 20_000, deadlineMs: 120_000 } });
  // Cold: the models stay on disk until a job needs one; loading is timed and never billed.
  await stack.startRunner({ models: [SMOLLM2, GEMMA], modelsDir, load: 'on-demand', extraArgs: ['--threads', '1'], readyTimeoutMs: 120_000 });
  client = new OpenAI({ apiKey: stack.apiKey, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0, timeout: 120_000 });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

describe('SmolLM2 135M Instruct', () => {
  let answer = '';

  test('a greedy chat answer says Paris, stops at end of turn well before max_tokens, and its receipt names the pinned file', async () => {
    const { data, response } = await client.chat.completions.create({ model: SMOLLM2, messages: question, max_tokens: 64, temperature: 0 }).withResponse();
    answer = data.choices[0]!.message.content!;
    expect(answer).toMatch(/Paris/);
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.completion_tokens).toBeLessThan(32);
    expect((data as any).trd_receipt.envelope.model_sha256).toBe(findModel(SMOLLM2)!.sha256);
    // The first job loaded the model: the load is recorded, and billing counts generation only.
    const job = await api(stack, 'GET', `/v1/jobs/${response.headers.get('x-trd-job-id')}`);
    const t = job.json.timings;
    expect(t.model_load_ms).toBeGreaterThan(0);
    expect(job.json.billing.billable_ms).toBeLessThanOrEqual(t.time_to_first_token_ms + t.generation_ms);
  });

  test('streamed chunks add up to the same answer', async () => {
    const stream = await client.chat.completions.create({ model: SMOLLM2, messages: question, max_tokens: 64, temperature: 0, stream: true });
    const parts: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      parts.push(chunk.choices[0]?.delta?.content ?? '');
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(parts.filter(Boolean).length).toBeGreaterThan(3);
    expect(parts.join('')).toBe(answer);
    expect(finish).toBe('stop');
  });

  test('a stop string ends the answer before it', async () => {
    const data = await client.chat.completions.create({ model: SMOLLM2, messages: question, max_tokens: 64, temperature: 0, stop: ['Paris'] });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.choices[0]!.message.content).toBe(answer.slice(0, answer.indexOf('Paris')));
  });

  test('the same seed samples the same text, another seed other text', async () => {
    const ask = (seed: number) =>
      client.chat.completions.create({ model: SMOLLM2, messages: [{ role: 'user', content: 'Write one sentence about the sea.' }], max_tokens: 24, temperature: 1.0, seed });
    const [a, b, c] = [await ask(7), await ask(7), await ask(8)];
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(c.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });
});

describe('Gemma 3 270M (base) on the same runner', () => {
  test('a completion cold-loads it (timed, unbilled), then SmolLM2 is still warm', async () => {
    const { data, response } = await client.completions.create({ model: GEMMA, prompt: 'The quick brown fox', max_tokens: 8, temperature: 0 }).withResponse();
    expect(data.choices[0]!.text.length).toBeGreaterThan(0);
    expect((data as any).trd_receipt.envelope.model_sha256).toBe(findModel(GEMMA)!.sha256);
    const job = await api(stack, 'GET', `/v1/jobs/${response.headers.get('x-trd-job-id')}`);
    const t = job.json.timings;
    // Loading 241 MiB takes seconds; the bill is the prompt and the 8 tokens, without the load.
    expect(t.model_load_ms).toBeGreaterThan(t.time_to_first_token_ms + t.generation_ms);
    expect(job.json.billing.billable_ms).toBeLessThanOrEqual(t.time_to_first_token_ms + t.generation_ms);

    const warm = await client.chat.completions.create({ model: SMOLLM2, messages: question, max_tokens: 64, temperature: 0 }).withResponse();
    const warmJob = await api(stack, 'GET', `/v1/jobs/${warm.response.headers.get('x-trd-job-id')}`);
    expect(warmJob.json.timings.model_load_ms ?? 0).toBe(0);
  });
});

describe('pinned bytes and the signed catalog', () => {
  test('a runner serving another file under a pinned key is refused', async () => {
    await expect(resolveModel(`${modelsDir}/${GEMMA}.gguf`, { modelsDir, keyOverride: SMOLLM2 })).rejects.toThrow(/is not the smollm2-135m-instruct the network serves \(sha256 a5fd3b62.*expected b179c952/);
  });

  test("the gateway's signed catalog verifies with the published key and pins the file the runner has; a changed catalog is refused", async () => {
    const smol = await resolveModel(SMOLLM2, { modelsDir });
    const models = await checkSignedCatalog(stack.baseUrl, [smol]);
    expect(models.find((m) => m.key === SMOLLM2)!.sha256).toBe(smol.sha256);
    const gemmaUnderSmolKey = { ...smol, sha256: findModel(GEMMA)!.sha256! };
    await expect(checkSignedCatalog(stack.baseUrl, [gemmaUnderSmolKey])).rejects.toThrow(/is not the smollm2-135m-instruct the platform's signed catalog pins/);
  });
});
