/**
 * A small real HTTP server in front of nothing: an OpenAI-compatible
 * provider that fails (500), stalls (takes the request, never answers) or
 * answers 429, as the test sets it. What the cascade must pass a job on from.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FlakyMode = 'fail' | 'stall' | '429';

export interface FlakyProvider {
  /** The API root (…/v1) to put in a cascade tier. */
  baseUrl: string;
  mode: FlakyMode;
  /** Requests received, by path. */
  requests: string[];
  stop(): Promise<void>;
}

export async function startFlakyProvider(mode: FlakyMode): Promise<FlakyProvider> {
  const stalled = new Set<ServerResponse>();
  const state: FlakyProvider = {
    baseUrl: '',
    mode,
    requests: [],
    stop: async () => {
      for (const res of stalled) res.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.requests.push(req.url ?? '');
      if (state.mode === 'stall') {
        stalled.add(res);
        res.on('close', () => stalled.delete(res));
        return;
      }
      const status = state.mode === '429' ? 429 : 500;
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '0' } : {}) });
      res.end(JSON.stringify({ error: { message: status === 429 ? 'rate limited' : 'upstream exploded', type: 'server_error' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}
