/**
 * The MCP tools, through the MCP SDK's own client: over Streamable HTTP on
 * the gateway (with an API key) and over stdio (`trd-mcp`). A job run by an
 * agent is a job like any other, and its receipt checks out; a tampered one
 * does not.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fileURLToPath } from 'node:url';
import { api, startStack, type TestStack } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner();
});

afterAll(async () => {
  await stack?.stop();
});

async function httpClient(key = stack.apiKey): Promise<Client> {
  const client = new Client({ name: 'trd-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}

test('over HTTP: list the tools, list models, run a job, fetch it, verify its receipt', async () => {
  const client = await httpClient();
  try {
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['get_job', 'list_models', 'run_inference', 'verify_receipt']);

    const models = await client.callTool({ name: 'list_models', arguments: {} });
    expect((models.structuredContent as any).models).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'trd-tiny', warm_capacity: true })]));

    const ran = await client.callTool({ name: 'run_inference', arguments: { model: 'trd-tiny', prompt: 'An agent asks', max_tokens: 9 } });
    const job = ran.structuredContent as any;
    expect(job).toMatchObject({ status: 'succeeded', usage: { completion_tokens: 9 } });
    expect(job.charge_microcredits).toBeGreaterThan(0);
    // The same job as over the jobs API: greedy, same prompt, same output.
    expect(job.output).toBe((await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'An agent asks', max_tokens: 9 })).json.output);

    const fetched = await client.callTool({ name: 'get_job', arguments: { job_id: job.job_id } });
    expect(fetched.structuredContent).toMatchObject({ job_id: job.job_id, output: job.output });

    const valid = await client.callTool({ name: 'verify_receipt', arguments: { receipt: job.receipt } });
    expect(valid.structuredContent).toMatchObject({ valid: true, job_id: job.job_id });
    const tampered = structuredClone(job.receipt);
    tampered.envelope.completion_tokens += 1;
    const invalid = await client.callTool({ name: 'verify_receipt', arguments: { receipt: JSON.stringify(tampered) } });
    expect(invalid.structuredContent).toMatchObject({ valid: false });
  } finally {
    await client.close();
  }
});

test('over HTTP: a bad key is refused before any tool runs; a bad argument is a tool error', async () => {
  await expect(httpClient('trd_sk_wrong')).rejects.toThrow(/401|API key/);
  const client = await httpClient();
  try {
    const unknown = await client.callTool({ name: 'run_inference', arguments: { model: 'gpt-17', prompt: 'x', max_tokens: 4 } });
    expect(unknown.isError).toBe(true);
    expect(JSON.stringify(unknown.content)).toMatch(/gpt-17.*not in the catalog/);
    const badId = await client.callTool({ name: 'get_job', arguments: { job_id: 'nope' } });
    expect(badId.isError).toBe(true);
  } finally {
    await client.close();
  }
});

test('over stdio: trd-mcp reaches the gateway with TRD_API_KEY', async () => {
  const job = (await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'stdio', max_tokens: 5 })).json;
  const client = new Client({ name: 'trd-test', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['gateway/bin/trd-mcp.js'],
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', TRD_GATEWAY_URL: stack.baseUrl, TRD_API_KEY: stack.apiKey },
      stderr: 'pipe',
    }),
  );
  try {
    const fetched = await client.callTool({ name: 'get_job', arguments: { job_id: job.id } });
    expect(fetched.structuredContent).toMatchObject({ job_id: job.id, status: 'succeeded', output: job.output });
  } finally {
    await client.close();
  }
});
