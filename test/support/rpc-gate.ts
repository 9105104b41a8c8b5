/**
 * A JSON-RPC hop between the platform and the local EVM node that can refuse
 * chosen methods, as a node (or its load balancer) refusing a transaction
 * would: the one way to hold a signed transaction back from the chain at a
 * known point, where stopping the node would race the step after signing.
 * Everything else is forwarded to the real node unchanged.
 */
import { createServer, type Server } from 'node:http';
import { freePort } from '../../devstack/ports.js';

export interface RpcGate {
  url: string;
  /** Answers `method` with a JSON-RPC error until allowed again; counts the calls refused. */
  refuse(method: string): void;
  allow(method: string): void;
  refused(method: string): number;
  stop(): Promise<void>;
}

type Call = { id?: unknown; method?: string };

export async function startRpcGate(target: string): Promise<RpcGate> {
  const refusing = new Set<string>();
  const counts = new Map<string, number>();
  const refusal = (call: Call) => {
    counts.set(call.method!, (counts.get(call.method!) ?? 0) + 1);
    return { jsonrpc: '2.0', id: call.id ?? null, error: { code: -32603, message: `the test's RPC gate refuses ${call.method}` } };
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let parsed: Call | Call[] | null = null;
    try {
      parsed = JSON.parse(body);
    } catch {
      // Not JSON: the node gives its own answer.
    }
    const calls = Array.isArray(parsed) ? parsed : parsed ? [parsed] : [];
    if (calls.length && calls.every((c) => c.method && refusing.has(c.method))) {
      const answers = calls.map(refusal);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(parsed) ? answers : answers[0]));
      return;
    }
    if (calls.some((c) => c.method && refusing.has(c.method))) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'the test RPC gate cannot split a batch' } }));
      return;
    }
    try {
      const answer = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    } catch (err) {
      res.writeHead(502).end(`the node at ${target} did not answer: ${(err as Error).message}`);
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    refuse: (method) => void refusing.add(method),
    allow: (method) => void refusing.delete(method),
    refused: (method) => counts.get(method) ?? 0,
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
