/**
 * Published agents as the public sees them and as customers call them, on a
 * real stack with a real runner: GET /v1/agents, `model: "agent:<slug>"`
 * through the official `openai` client (plain and streamed) and as an MCP
 * tool through the MCP SDK's client. Each run is an ordinary job whose
 * receipt names the agent and its manifest hash; under a burst of runs the
 * author's share is in the ledger once per job, each transaction balances,
 * an agent with an input schema runs only on input it accepts, and a bad
 * submission changes nothing.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { canonicalize, publicKeyFromPem, verifyReceipt } from '@trd/protocol';
import { AGENT_AUTHOR_SHARE_BPS } from '../../economy/rates.js';
import { PLATFORM_REVENUE, authorAccount } from '../../economy/ledger.js';
import { manifestFor, newAccount, publishAgent } from '../support/agents.js';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let openai: OpenAI;
let author: { id: string; key: string };
let manifestSha: string;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner();
  author = await newAccount(stack.db, 'agent author');
  manifestSha = await publishAgent(stack.db, author.id, manifestFor(author.id, { parameters: { temperature: 0, max_tokens: 10, stop: [] } }));
  openai = new OpenAI({ apiKey: stack.apiKey, baseURL: `${stack.baseUrl}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

async function checkReceipt(receipt: any) {
  const keys = (await api(stack, 'GET', '/keys', undefined, null)).json.keys;
  const key = keys.find((k: any) => k.kid === receipt.envelope.kid);
  // As a verifier gets it: JSON text (the MCP client's objects come from another realm, which canonical JSON refuses).
  return verifyReceipt(JSON.parse(JSON.stringify(receipt)), publicKeyFromPem(key.public_key_pem));
}

test('GET /v1/agents lists the published agent without its payout account; an unknown one is a 404', async () => {
  const list = await api(stack, 'GET', '/v1/agents', undefined, null);
  expect(list.json.data).toEqual([expect.objectContaining({ id: 'agent:haiku-bot', slug: 'haiku-bot', version: '1.0.0', model: 'trd-tiny', manifest_sha256: manifestSha })]);
  expect(JSON.stringify(list.json)).not.toContain(author.id);
  expect((await api(stack, 'GET', '/v1/agents/haiku-bot', undefined, null)).json.name).toBe('Haiku bot');
  expect((await api(stack, 'GET', '/v1/agents/nobody', undefined, null)).status).toBe(404);
  const page = await fetch(`${stack.baseUrl}/agents`);
  expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)]);
});

test('the openai client runs agent:<slug>: its system prompt and parameters, a receipt naming it', async () => {
  const messages = [{ role: 'user' as const, content: 'Tell me about rain.' }];
  const { data, response } = await openai.chat.completions.create({ model: 'agent:haiku-bot', messages, max_tokens: 500, temperature: 1.5 }).withResponse();
  const jobId = response.headers.get('x-trd-job-id')!;
  // The agent's max_tokens (10) caps the caller's; its temperature (0) is used: greedy, so repeatable.
  expect(data.usage!.completion_tokens).toBeLessThanOrEqual(10);
  const receipt = (data as any).trd_receipt;
  expect(receipt.envelope).toMatchObject({ job_id: jobId, agent: 'haiku-bot', agent_manifest_sha256: manifestSha, output_sha256: sha256(data.choices[0]!.message.content!) });
  // The prompt the receipt hashes is the agent's system prompt, then the caller's messages.
  expect(receipt.envelope.prompt_sha256).toBe(sha256(canonicalize([{ role: 'system', content: 'You answer in haiku.' }, ...messages])));
  expect(await checkReceipt(receipt)).toMatchObject({ ok: true });
  const job = await stack.db.job.findUniqueOrThrow({ where: { id: jobId } });
  expect([job.model, job.temperature, job.maxTokens]).toEqual(['trd-tiny', 0, 10]);

  // Streamed: the same text as the plain run (greedy), chunk by chunk.
  const stream = await openai.chat.completions.create({ model: 'agent:haiku-bot', messages, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage: any = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  expect(text).toBe(data.choices[0]!.message.content);
  expect(usage.completion_tokens).toBe(data.usage!.completion_tokens);

  await expect(openai.chat.completions.create({ model: 'agent:nobody', messages })).rejects.toMatchObject({ status: 404, code: 'agent_not_found' });
  // A text completion has no place for an agent's system prompt: pointed to chat, and no job made.
  const jobs = await stack.db.job.count();
  await expect(openai.completions.create({ model: 'agent:haiku-bot', prompt: 'Rain' })).rejects.toMatchObject({ status: 400, code: 'agent_chat_only', param: 'model', message: expect.stringMatching(/agent:haiku-bot is an agent and runs through \/v1\/chat\/completions/) });
  await expect(openai.completions.create({ model: 'agent:nobody', prompt: 'Rain' })).rejects.toMatchObject({ status: 404, code: 'agent_not_found' });
  expect(await stack.db.job.count()).toBe(jobs);
});

test('the MCP SDK client sees agent_haiku_bot as a tool and runs it as a job with a receipt', async () => {
  const client = new McpClient({ name: 'trd-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${stack.apiKey}` } } }));
  try {
    const tools = (await client.listTools()).tools;
    expect(tools.map((t) => t.name)).toContain('agent_haiku_bot');
    const ran = await client.callTool({ name: 'agent_haiku_bot', arguments: { message: 'Tell me about rain.' } });
    const out = ran.structuredContent as any;
    expect(out).toMatchObject({ agent: 'haiku-bot', version: '1.0.0' });
    expect(out.receipt.envelope).toMatchObject({ job_id: out.job_id, agent: 'haiku-bot', agent_manifest_sha256: manifestSha });
    expect(await checkReceipt(out.receipt)).toMatchObject({ ok: true });
    const bad = await client.callTool({ name: 'agent_haiku_bot', arguments: {} });
    expect(bad.isError).toBe(true);
  } finally {
    await client.close();
  }
});

test('a burst of agent runs: each job settled once, balanced, the author credited exactly its share', async () => {
  const runs = await Promise.all(
    Array.from({ length: 12 }, (_, i) => openai.chat.completions.create({ model: 'agent:haiku-bot', messages: [{ role: 'user', content: `burst ${i}` }] }).withResponse()),
  );
  const jobIds = runs.map((r) => r.response.headers.get('x-trd-job-id')!);
  const txs = await stack.db.ledgerTransaction.findMany({ where: { jobId: { in: jobIds } }, include: { entries: true } });
  expect(txs).toHaveLength(jobIds.length);
  let expected = 0n;
  for (const t of txs) {
    expect(t.entries.reduce((s, e) => s + e.amount, 0n)).toBe(0n);
    const charge = -t.entries.find((e) => e.account.startsWith('customer:'))!.amount;
    expect(charge).toBeGreaterThan(0n);
    const share = (charge * BigInt(AGENT_AUTHOR_SHARE_BPS)) / 10_000n;
    expect(t.entries.find((e) => e.account === authorAccount(author.id))?.amount ?? 0n).toBe(share);
    expect(t.entries.find((e) => e.account === PLATFORM_REVENUE)!.amount).toBeGreaterThanOrEqual(0n);
    expected += share;
  }
  const entries = await stack.db.ledgerEntry.aggregate({ where: { account: authorAccount(author.id), transaction: { jobId: { in: jobIds } } }, _sum: { amount: true } });
  expect(entries._sum.amount).toBe(expected);
  // The balance row is the sum of every entry of the account (the runs of the tests above too).
  const all = await stack.db.ledgerEntry.aggregate({ where: { account: authorAccount(author.id) }, _sum: { amount: true } });
  expect((await stack.db.accountBalance.findUniqueOrThrow({ where: { account: authorAccount(author.id) } })).balance).toBe(all._sum.amount);
  // A plain job pays no author.
  const plain = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'no agent', max_tokens: 4 });
  const tx = await stack.db.ledgerTransaction.findFirstOrThrow({ where: { jobId: plain.json.id }, include: { entries: true } });
  expect(tx.entries.map((e) => e.account)).not.toContain(authorAccount(author.id));
});

test("an agent with an input schema runs only on input it accepts; each refusal says why and makes no job", async () => {
  const schema = { type: 'object', properties: { topic: { type: 'string', minLength: 1 }, lines: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['topic'], additionalProperties: false };
  await publishAgent(stack.db, author.id, manifestFor(author.id, { slug: 'topic-bot', input_schema: schema, parameters: { temperature: 0, max_tokens: 8, stop: [] } }));
  const jobs = await stack.db.job.count();
  const run = (content: string) => openai.chat.completions.create({ model: 'agent:topic-bot', messages: [{ role: 'user', content }] });
  const refusals: Array<[string, RegExp]> = [
    ['write me a haiku', /: it is not JSON$/],
    ['[1, 2]', /: it is not a JSON object$/],
    ['{}', /input must have required property 'topic'$/],
    ['{"topic": 7}', /input\.topic must be string$/],
    ['{"topic": "sea", "lines": 9}', /input\.lines must be <= 3$/],
    ['{"topic": "sea", "rhyme": true}', /input must NOT have additional properties$/],
  ];
  for (const [content, message] of refusals) {
    const err = await run(content).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ code: 'invalid_agent_input', param: 'messages[0].content', message: expect.stringMatching(message) });
  }
  expect(await stack.db.job.count()).toBe(jobs);
  const ok = await run('{"topic": "the sea", "lines": 2}');
  expect(ok.choices[0]!.message.content).toEqual(expect.any(String));
  expect(await stack.db.job.count()).toBe(jobs + 1);
});

test('each bad manifest gets its clear error and changes nothing', async () => {
  const tables = async () =>
    Promise.all([stack.db.agent.count(), stack.db.agentSubmission.count(), stack.db.agentVersion.count(), stack.db.agentReviewEvent.count(), stack.db.job.count()]);
  const before = await tables();
  const good = manifestFor(author.id, { slug: 'second-bot' });
  const cases: Array<[unknown, number, RegExp]> = [
    [{ manifest: { ...good, model: 'gpt-17' } }, 400, /manifest\.model: "gpt-17" is not a model/],
    [{ manifest: { ...good, parameters: { temperature: 9, max_tokens: 0 } } }, 400, /manifest\.parameters\.temperature: must be at most 2; manifest\.parameters\.max_tokens: must be at least 1/],
    [{ manifest: { ...good, payout_account: `cus_${'0'.repeat(32)}` } }, 400, /manifest\.payout_account: no account cus_0+/],
    [{ manifest: { ...good, slug: 'haiku-bot', version: '1.0.0' } }, 409, /manifest\.version: haiku-bot 1\.0\.0 was submitted before/],
    [{ manifest: good, extra: 1 }, 400, /unknown field\(s\): extra/],
    [{ manifest: 'not json object' }, 400, /manifest: must be a JSON object/],
    [{ manifest: { ...good, input_schema: { type: 'object', properties: { n: { type: 'integr' } } } } }, 400, /manifest\.input_schema: not a JSON Schema Ajv can compile/],
    [{ manifest: { ...good, input_schema: { type: 'object', propertiez: {} } } }, 400, /manifest\.input_schema: .*unknown keyword: "propertiez"/],
  ];
  for (const [body, status, message] of cases) {
    const res = await api(stack, 'POST', '/v1/agents/submissions', body, author.key);
    expect([res.status, res.json.error.message]).toEqual([status, expect.stringMatching(message)]);
  }
  // Another author cannot take a slug that is someone's.
  const taken = await api(stack, 'POST', '/v1/agents/submissions', { manifest: manifestFor(author.id, { version: '2.0.0' }) });
  expect([taken.status, taken.json.error.code]).toEqual([409, 'slug_taken']);
  // No key, no session: 401.
  expect((await api(stack, 'POST', '/v1/agents/submissions', { manifest: good }, null)).status).toBe(401);
  expect(await tables()).toEqual(before);
});

test('the dashboard sign-in works in place of an API key for the author’s own submissions', async () => {
  const signIn = await fetch(`${stack.baseUrl}/v1/owner/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: author.key }) });
  expect(signIn.status).toBe(201);
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
  const mine = await fetch(`${stack.baseUrl}/v1/agents/submissions`, { headers: { cookie } });
  expect(mine.status).toBe(200);
  // The two published directly by the test helper are the author's.
  expect((await mine.json()).data.map((s: any) => s.slug).sort()).toEqual(['haiku-bot', 'topic-bot']);
  expect((await fetch(`${stack.baseUrl}/v1/agents/submissions`, { headers: { cookie: 'trd_session=forged' } })).status).toBe(401);
});
