/**
 * The network as MCP tools for agents: run_inference, list_models, get_job,
 * verify_receipt. The tools speak to the gateway's public HTTP API with the
 * caller's API key, so the Streamable HTTP endpoint (POST /mcp, here) and the
 * stdio server (`trd-mcp`, for agents on the caller's machine) are the same
 * code with a different address, and an agent can do nothing its key cannot.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { JOB_ID_PATTERN, MAX_SEED, TRUST_TIERS, publicKeyFromPem, verifyReceipt } from '@trd/protocol';

export interface GatewayAccess {
  baseUrl: string;
  apiKey: string;
}

/** A tool's answer: text for the model to read, the same as structured content for programs. */
const answer = (summary: string, data: Record<string, unknown>) => ({ content: [{ type: 'text' as const, text: `${summary}\n${JSON.stringify(data, null, 2)}` }], structuredContent: data });
const refusal = (message: string) => ({ content: [{ type: 'text' as const, text: message }], isError: true });

async function call(access: GatewayAccess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ ok: boolean; json: any }> {
  const res = await fetch(new URL(path, access.baseUrl), {
    method,
    headers: { authorization: `Bearer ${access.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { ok: res.ok, json: await res.json().catch(() => null) };
}

const problem = (json: any) => json?.error?.message ?? 'the gateway refused the request';

export function createTrdMcpServer(access: GatewayAccess): McpServer {
  const server = new McpServer({ name: 'trd-compute', version: '0.1.0' });

  server.registerTool(
    'list_models',
    { title: 'List models', description: 'The models the TRD network serves, with whether warm capacity (a runner with it loaded) is online now.', inputSchema: {} },
    async () => {
      const { ok, json } = await call(access, 'GET', '/v1/models');
      if (!ok) return refusal(problem(json));
      const models = json.data.map((m: any) => ({ id: m.id, name: m.name, context_length: m.context_length, max_output_tokens: m.max_output_tokens, warm_capacity: m.warm_capacity }));
      return answer(`${models.length} models; warm now: ${models.filter((m: any) => m.warm_capacity).map((m: any) => m.id).join(', ') || 'none'}`, { models });
    },
  );

  server.registerTool(
    'run_inference',
    {
      title: 'Run inference',
      description: 'Runs a prompt on the network and waits for the output (up to wait_seconds). Returns the output, usage, charge and a signed receipt; if it is still running, returns the job id for get_job.',
      inputSchema: {
        model: z.string().describe('a model id from list_models'),
        prompt: z.string().min(1),
        max_tokens: z.number().int().min(1),
        temperature: z.number().min(0).max(2).optional().describe('0 (default) is greedy: the same prompt gives the same output'),
        seed: z.number().int().min(0).max(MAX_SEED).optional(),
        min_tier: z.enum(TRUST_TIERS).optional().describe('only runners of this trust tier or above'),
        wait_seconds: z.number().int().min(0).max(60).optional().describe('how long to wait for the result (default 60)'),
      },
    },
    async ({ wait_seconds, ...job }) => jobAnswer(await call(access, 'POST', `/v1/jobs?wait=${wait_seconds ?? 60}`, job)),
  );

  server.registerTool(
    'get_job',
    {
      title: 'Get a job',
      description: 'A job’s state; once it succeeded, its output, usage, charge and signed receipt.',
      inputSchema: { job_id: z.string().regex(JOB_ID_PATTERN, 'is a job id (job_ and 32 hex digits)'), wait_seconds: z.number().int().min(0).max(60).optional() },
    },
    async ({ job_id, wait_seconds }) => jobAnswer(await call(access, 'GET', `/v1/jobs/${job_id}?wait=${wait_seconds ?? 0}`)),
  );

  server.registerTool(
    'verify_receipt',
    {
      title: 'Verify a receipt',
      description: 'Checks a signed receipt (the JSON from run_inference or get_job) against the platform’s published signing keys, here, not trusting the job record.',
      inputSchema: { receipt: z.union([z.string(), z.record(z.string(), z.unknown())]).describe('the receipt object, or its JSON text') },
    },
    async ({ receipt }) => {
      let doc: any;
      try {
        doc = typeof receipt === 'string' ? JSON.parse(receipt) : receipt;
      } catch {
        return refusal('the receipt is not valid JSON');
      }
      const keys = await call(access, 'GET', '/keys');
      if (!keys.ok) return refusal(problem(keys.json));
      const kid = doc?.envelope?.kid;
      const key = keys.json.keys.find((k: any) => k.kid === kid);
      if (!key) return answer('NOT valid: signed with a key the platform does not publish', { valid: false, reason: `unknown key id ${JSON.stringify(kid)}` });
      const check = await verifyReceipt(doc, publicKeyFromPem(key.public_key_pem));
      return check.ok
        ? answer(`valid: signed by the platform key ${check.kid}`, { valid: true, kid: check.kid, job_id: doc.envelope.job_id, output_sha256: doc.envelope.output_sha256 })
        : answer(`NOT valid: ${check.reason}`, { valid: false, reason: check.reason });
    },
  );

  return server;
}

/**
 * One tool per published agent (`agent_<slug>`, hyphens as underscores), from
 * GET /v1/agents when the server is made: each call is a chat completion with
 * `model: "agent:<slug>"`, an ordinary job with its receipt. An agent with an
 * input schema takes `input` (an object, sent to it as JSON); any other takes `message`.
 */
export async function registerAgentTools(server: McpServer, access: GatewayAccess): Promise<void> {
  const { ok, json } = await call(access, 'GET', '/v1/agents');
  if (!ok) return;
  for (const agent of json.data as any[]) {
    const schema = agent.input_schema;
    server.registerTool(
      agentToolName(agent.slug),
      {
        title: agent.name,
        description: `${agent.description}\n(agent ${agent.slug} ${agent.version} by ${agent.author}, on ${agent.model}${schema ? `; input: ${JSON.stringify(schema)}` : ''})`,
        inputSchema: {
          ...(schema ? { input: z.record(z.string(), z.unknown()).describe('an object matching the agent’s input schema') } : { message: z.string().min(1).describe('what to ask the agent') }),
          max_tokens: z.number().int().min(1).optional().describe(`at most the agent’s own ${agent.parameters.max_tokens}`),
        },
      },
      async (args: { input?: Record<string, unknown>; message?: string; max_tokens?: number }) => {
        const content = args.input !== undefined ? JSON.stringify(args.input) : args.message!;
        const { ok, json } = await call(access, 'POST', '/v1/chat/completions', { model: `agent:${agent.slug}`, messages: [{ role: 'user', content }], ...(args.max_tokens ? { max_tokens: args.max_tokens } : {}) });
        if (!ok) return refusal(problem(json));
        const output = json.choices[0].message.content;
        return answer(output, { job_id: json.trd_job_id, agent: agent.slug, version: agent.version, output, usage: json.usage, receipt: json.trd_receipt });
      },
    );
  }
}

export const agentToolName = (slug: string) => `agent_${slug.replace(/-/g, '_')}`;

/** A job from the jobs API as the tool's answer, or the gateway's refusal. */
function jobAnswer({ ok, json: job }: { ok: boolean; json: any }) {
  if (!ok) return refusal(problem(job));
  const data = {
    job_id: job.id,
    status: job.status,
    output: job.output,
    error: job.error,
    usage: job.usage,
    charge_microcredits: job.billing?.charge_microcredits ?? null,
    worker_id: job.worker_id,
    receipt: job.receipt,
  };
  const summary =
    job.status === 'succeeded' ? `succeeded on ${job.worker_id}; output:\n${job.output}` : job.status === 'failed' ? `failed: ${job.error}` : `${job.status}: call get_job with job_id ${job.id}`;
  return answer(summary, data);
}

/**
 * POST /mcp: Streamable HTTP, stateless (a server and transport per request),
 * behind the API-key check; the tools call this gateway with the same key.
 */
export function mcpHttpHandler(): RequestHandler {
  return async (req, res) => {
    // The tools call this very process at the address the request came in on: no balancer or public name in between.
    const local = req.socket.localAddress ?? '127.0.0.1';
    const access = { baseUrl: `http://${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`, apiKey: /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')![1]! };
    const server = createTrdMcpServer(access);
    await registerAgentTools(server, access);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
}
