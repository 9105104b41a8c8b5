/**
 * Two gateway processes over one database and one Temporal: what a client
 * sees does not depend on which replica a request lands on.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
/** Slow enough that a stream's chunks are spread over time (24 tokens ≈ 1 s). */
const TOKEN_DELAY_MS = 40;

beforeAll(async () => {
  stack = await startStack({ replicas: { gateway: 2 } });
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
