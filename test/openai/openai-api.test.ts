/**
 * The OpenAI-compatible API, through the official `openai` client pointed at
 * the gateway: chat and completions, streaming with usage, stop strings, the
 * error shapes, and a client hanging up mid-stream (the job is cancelled and
 * billed for what was generated). Real stack, a real runner.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

let stack: TestStack;
let client: OpenAI;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** Slow enough that a stream's chunks are spread over time (24 tokens ≈ 0.5 s), fast enough for a test. */
const TOKEN_DELAY_MS = 20;

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner({ env: { TRD_RUNNER_FAULTS: `token-delay-ms=${TOKEN_DELAY_MS}` } });
  client = new OpenAI({ apiKey: stack.apiKey, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Name a colour.' },
];

test('chat completion: the standard object with usage, the job id in a header, a receipt over the answer', async () => {
  const { data, response } = await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 12, temperature: 0 }).withResponse();
  expect(data).toMatchObject({ object: 'chat.completion', model: 'trd-tiny', choices: [{ index: 0, message: { role: 'assistant' } }] });
  const content = data.choices[0]!.message.content!;
  expect(content.length).toBeGreaterThan(0);
  expect(['stop', 'length']).toContain(data.choices[0]!.finish_reason);
  expect(data.usage!.completion_tokens).toBeLessThanOrEqual(12);
  expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
  const jobId = response.headers.get('x-trd-job-id')!;
  expect(data.id).toBe(`chatcmpl-${jobId}`);
  const receipt = (data as any).trd_receipt;
  expect(receipt.envelope).toMatchObject({ job_id: jobId, output_sha256: sha256(content), completion_tokens: data.usage!.completion_tokens });
  // The receipt's prompt hash is over the messages as canonical JSON: the customer can recompute it.
  expect(receipt.envelope.prompt_sha256).toBe(sha256(JSON.stringify(messages.map((m) => ({ content: m.content, role: m.role })))));
  // Greedy: the same messages give the same answer.
  expect((await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 12, temperature: 0 })).choices[0]!.message.content).toBe(content);
});

test('completion: the same job as POST /v1/jobs with the same prompt', async () => {
  const completion = await client.completions.create({ model: 'trd-tiny', prompt: 'The network', max_tokens: 10, temperature: 0 });
  expect(completion).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }], usage: { completion_tokens: 10 } });
  const job = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'The network', max_tokens: 10 });
  expect(completion.choices[0]!.text).toBe(job.json.output);
});

test('streaming: chunks arrive while the runner generates, add up to the result, and end with usage and [DONE]', async () => {
  const started = performance.now();
  const stream = await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
  const arrivals: number[] = [];
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  let id = '';
  for await (const chunk of stream) {
    id = chunk.id;
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (choice?.delta.content) {
      text += choice.delta.content;
      arrivals.push(performance.now() - started);
    }
    if (choice?.finish_reason) finish = choice.finish_reason;
  }
  const jobId = id.replace(/^chatcmpl-/, '');
  const job = (await api(stack, 'GET', `/v1/jobs/${jobId}`)).json;
  expect(job.status).toBe('succeeded');
  expect(text).toBe(job.output);
  expect(finish).toBe(job.finish_reason);
  expect(usage).toEqual({ prompt_tokens: job.usage.prompt_tokens, completion_tokens: job.usage.completion_tokens, total_tokens: job.usage.total_tokens });
  // Live, not at the end: the text came in many pieces spread over the generation time.
  expect(arrivals.length).toBeGreaterThan(5);
  expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(job.usage.completion_tokens * TOKEN_DELAY_MS * 0.5);
});

test('a stop string ends the answer before it', async () => {
  const full = (await client.completions.create({ model: 'trd-tiny', prompt: 'Stop here', max_tokens: 40, temperature: 0 })).choices[0]!.text;
  const stop = full.slice(20, 23);
  const cut = await client.completions.create({ model: 'trd-tiny', prompt: 'Stop here', max_tokens: 40, temperature: 0, stop: [stop] });
  expect(cut.choices[0]).toMatchObject({ text: full.slice(0, full.indexOf(stop)), finish_reason: 'stop' });
});

test('errors come in OpenAI shape: an unknown model, a bad key, an unsupported field', async () => {
  const unknown = await client.chat.completions.create({ model: 'gpt-17', messages }).catch((e) => e);
  expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
  expect(unknown).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
  const stranger = new OpenAI({ apiKey: 'trd_sk_not-a-key', baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
  const refused = await stranger.chat.completions.create({ model: 'trd-tiny', messages }).catch((e) => e);
  expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
  expect(refused.status).toBe(401);
  const unsupported = await client.chat.completions.create({ model: 'trd-tiny', messages, n: 3 }).catch((e) => e);
  expect(unsupported).toBeInstanceOf(OpenAI.BadRequestError);
  expect(unsupported.message).toMatch(/n: only n=1 is supported/);
  // None of them became a job.
  expect(await stack.db.job.count({ where: { model: 'gpt-17' } })).toBe(0);
});

test('a client hanging up mid-stream cancels the job, which is billed for what was generated', async () => {
  const controller = new AbortController();
  const stream = await client.completions.create(
    { model: 'trd-tiny', prompt: 'Hang up on me', max_tokens: 300, temperature: 0, stream: true },
    { signal: controller.signal },
  );
  let id = '';
  let pieces = 0;
  await (async () => {
    for await (const chunk of stream) {
      id = chunk.id;
      if (chunk.choices[0]?.text && ++pieces === 3) controller.abort();
    }
  })().catch(() => {});
  const job = await waitForJob(stack, id.replace(/^cmpl-/, ''), (j) => j.status === 'cancelled');
  expect(job.usage.completion_tokens).toBeGreaterThan(0);
  expect(job.usage.completion_tokens).toBeLessThan(300);
  expect(job.billing.charge_microcredits).toBeGreaterThan(0);
});

test('models: the catalog, with warm capacity where a runner has the model loaded', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  expect(models).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'trd-tiny', object: 'model', warm_capacity: true })]));
  expect(models.find((m) => m.id === 'qwen2.5-7b-instruct')).toMatchObject({ warm_capacity: false });
});

test('the stream endpoint takes text only with the job’s own token', async () => {
  const res = await fetch(`${stack.baseUrl}/v1/jobs/job_00000000000000000000000000000000/stream`, {
    method: 'POST',
    headers: { authorization: 'Bearer trd_st_guess', 'content-type': 'application/x-ndjson' },
    body: '{"offset":0,"text":"injected"}\n',
  });
  expect(res.status).toBe(404);
});
