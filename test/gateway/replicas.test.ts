/**
 * Two gateway processes over one database and one Temporal: what a client
 * sees does not depend on which replica a request lands on.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { gatewaySettings } from '../../gateway/settings.js';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
/** Slow enough that a stream's chunks are spread over time (24 tokens ≈ 1 s). */
const TOKEN_DELAY_MS = 40;

beforeAll(async () => {
  stack = await startStack({
    replicas: { gateway: 2 },
    // As behind a TLS-terminating balancer on this machine.
    settings: { publicUrl: 'https://trd.example', trustProxy: 'loopback', rateLimits: { windowMs: 60_000, perIp: 3, perCredential: 10 }, http: { ...gatewaySettings({}).http, streamKeepAliveMs: 300, drainMs: 1000 } },
  });
  // The runner talks to the second replica only: its stream pushes land there.
  await stack.startRunner({ workerId: 'replicas-runner', gateway: 1, env: { TRD_RUNNER_FAULTS: `token-delay-ms=${TOKEN_DELAY_MS}` } });
});

afterAll(async () => {
  await stack?.stop();
});

/** Reads an SSE response, noting when each event arrived. */
async function readEvents(res: Response): Promise<{ at: number; data: string }[]> {
  const started = performance.now();
  const events: { at: number; data: string }[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (data) events.push({ at: performance.now() - started, data });
    }
  }
  return events;
}

test('a client streaming from replica A gets the text token by token while the runner pushes to replica B', async () => {
  const res = await fetch(`${stack.gatewayUrls[0]}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'trd-tiny', prompt: 'Across gateways', max_tokens: 24, temperature: 0, stream: true }),
  });
  expect(res.status).toBe(200);
  const events = await readEvents(res);
  expect(events.at(-1)!.data).toBe('[DONE]');
  const chunks = events.slice(0, -1).map((e) => ({ at: e.at, chunk: JSON.parse(e.data) }));
  const jobId = chunks.at(-1)!.chunk.trd_job_id;
  const job = await stack.db.job.findUniqueOrThrow({ where: { id: jobId } });
  expect(job.status).toBe('succeeded');
  expect(chunks.map((c) => c.chunk.choices[0].text).join('')).toBe(job.output);
  // The live chunks are the runner's pushes (they carry its time), relayed from B to A.
  const live = chunks.filter((c) => c.chunk.trd_generated_at !== undefined);
  const spreadMs = live.at(-1)!.at - live[0]!.at;
  console.log(`stream across replicas: ${live.length} live chunks of ${chunks.length - 1} text chunks over ${Math.round(spreadMs)} ms (${job.completionTokens} tokens at ${TOKEN_DELAY_MS} ms)`);
  expect(live.length).toBeGreaterThan(5);
  expect(spreadMs).toBeGreaterThan(job.completionTokens! * TOKEN_DELAY_MS * 0.5);
}, 60_000);

const post = (i: number, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${stack.gatewayUrls[i]}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('rate limits count across replicas, per client address as the trusted balancer forwards it', async () => {
  const from = { 'x-forwarded-for': '203.0.113.7' };
  const statuses: number[] = [];
  // Guesses alternate between the replicas, as a balancer spreads them.
  for (let i = 0; i < 4; i++) statuses.push((await post(i % 2, '/v1/owner/session', { api_key: `trd_sk_guess${i}` }, from)).status);
  expect(statuses).toEqual([401, 401, 401, 429]);
  // Another client behind the same balancer is its own address.
  expect((await post(1, '/v1/owner/session', { api_key: 'trd_sk_guess' }, { 'x-forwarded-for': '203.0.113.8' })).status).toBe(401);
});

test('with an https public URL the session cookie is Secure and the URLs handed out are public ones', async () => {
  const signIn = await post(0, '/v1/owner/session', { api_key: stack.apiKey }, { 'x-forwarded-for': '203.0.113.9' });
  expect(signIn.status).toBe(201);
  expect(signIn.headers.get('set-cookie')).toMatch(/; Secure/i);
  const code = await (await post(1, '/v1/runners/device-codes', {}, { 'x-forwarded-for': '203.0.113.10' })).json();
  expect(code.verification_uri).toBe('https://trd.example/dashboard/device');
  expect(code.verification_uri_complete).toBe(`https://trd.example/dashboard/device?code=${code.user_code}`);
});

test('/metrics job counters summed over the replicas count every finished job once', async () => {
  for (let i = 0; i < 3; i++) expect((await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `count me ${i}`, max_tokens: 2 })).json.status).toBe('succeeded');
  const finished = (i: number) =>
    fetch(`${stack.gatewayUrls[i]}/metrics`)
      .then((r) => r.text())
      .then((t) => [...t.matchAll(/^trd_jobs_finished_total\{outcome="(\w+)"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[2]), 0));
  // Both scrape at once, then again: each job lands in exactly one replica's counter.
  const [a, b] = await Promise.all([finished(0), finished(1)]);
  const [a2, b2] = await Promise.all([finished(0), finished(1)]);
  const inDb = await stack.db.job.count({ where: { finishedAt: { not: null } } });
  console.log(`metrics across replicas: A counted ${a2}, B ${b2}, ${inDb} finished jobs`);
  expect(a2 + b2).toBe(inDb);
  expect(a2 >= a && b2 >= b).toBe(true);
});

test('a queued stream gets keep-alive comments, and a replica shutting down cuts it without cancelling the job', async () => {
  // No trusted runner: the job stays queued.
  const res = await fetch(`${stack.gatewayUrls[0]}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'trd-tiny', prompt: 'Wait for me', max_tokens: 4, stream: true, min_tier: 'trusted' }),
  });
  expect(res.status).toBe(200);
  const jobId = res.headers.get('x-trd-job-id')!;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  })();
  await new Promise((r) => setTimeout(r, 1500));
  expect(text.split(': keep-alive').length - 1).toBeGreaterThanOrEqual(3);
  // SIGTERM: the replica stops accepting, gives the stream 1 s, then cuts it; the job is not cancelled.
  await stack.replica('gateway', 0).stop();
  await reading;
  const job = await api({ ...stack, baseUrl: stack.gatewayUrls[1] }, 'GET', `/v1/jobs/${jobId}`);
  expect(job.json.status).toBe('queued');
  await api({ ...stack, baseUrl: stack.gatewayUrls[1] }, 'POST', `/v1/jobs/${jobId}/cancel`);
}, 60_000);
