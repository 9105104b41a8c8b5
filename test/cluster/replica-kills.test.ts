/**
 * Platform replicas killed on the cluster (two gateways, two runner endpoints,
 * two orchestrators behind HAProxy; devstack/cluster.ts). Each test exercises
 * one of issue 17's state fixes:
 *   - a gateway SIGKILLed while clients stream, and a runner's push landing on
 *     the other gateway: cross-replica streams (point 2);
 *   - a runner endpoint SIGKILLed with jobs in flight: task tokens any endpoint
 *     replica accepts (point 1);
 *   - a rolling restart of both orchestrators with a key rotation: the signing
 *     key lifecycle several signers respect (point 3).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { publicKeyFromPem, verifyReceipt } from '@trd/protocol';
import { api, waitForJob } from '../support/stack.js';
import { startTestCluster, waitForJobsInDb, type TestCluster } from './cluster-stack.js';

let cluster: TestCluster;

/** A streaming chat completion straight to one gateway replica: when each chunk of text arrived, and the job. */
async function stream(base: string, apiKey: string, prompt: string, maxTokens: number) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'trd-tiny', messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, stream: true }),
  });
  expect({ status: res.status, body: res.status === 200 ? '' : await res.text() }).toEqual({ status: 200, body: '' });
  const jobId = res.headers.get('x-trd-job-id')!;
  const arrivals: number[] = [];
  let firstChunk!: () => void;
  const first = new Promise<void>((r) => (firstChunk = r));
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    let finished = false;
    try {
      for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(bytes, { stream: true });
        let i;
        while ((i = buffered.indexOf('\n\n')) >= 0) {
          const data = buffered.slice(0, i).replace(/^data: /, '');
          buffered = buffered.slice(i + 2);
          if (data === '[DONE]') finished = true;
          else if (JSON.parse(data).choices?.[0]?.delta?.content) {
            arrivals.push(Date.now());
            firstChunk();
          }
        }
      }
    } catch {
      // The replica died under the stream.
    }
    return finished;
  })();
  return { jobId, arrivals, first, done };
}

describe('replicas killed on the cluster', () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ jobLimits: { deadlineMs: 120_000 } });
    // Slow runners: a generation lasts long enough to kill something in the middle of it. Four, so the
    // gateway test's four streams run at once (with three, the fourth waited until another had finished).
    for (const id of ['r1', 'r2', 'r3', 'r4']) await cluster.startRunner({ workerId: id, env: { TRD_RUNNER_FAULTS: 'token-delay-ms=40', TRD_RUNNER_KEYS_REFRESH_MS: '1000' } });
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  test("a streaming request whose runner pushes land on the other gateway still streams token by token", async () => {
    // Straight to gateway-1; the runner pushes through the balancer, so about half its pushes reach gateway-2.
    const s = await stream(`http://${cluster.gateways[0].address}`, cluster.apiKey, 'spread over time', 40);
    expect(await s.done).toBe(true);
    expect(s.arrivals.length).toBeGreaterThanOrEqual(10);
    // 40 tokens at 40 ms each: the chunks arrive over most of the ~1.6 s, not all at the end.
    expect(s.arrivals[s.arrivals.length - 1] - s.arrivals[0]).toBeGreaterThan(600);
  }, 60_000);

  test('a gateway SIGKILLed while clients stream: the other keeps streaming, the killed one\'s clients find their results', async () => {
    const [g1, g2] = cluster.gateways;
    const onKilled = await Promise.all([0, 1].map((i) => stream(`http://${g1.address}`, cluster.apiKey, `killed ${i}`, 60)));
    const onSurvivor = await Promise.all([0, 1].map((i) => stream(`http://${g2.address}`, cluster.apiKey, `survivor ${i}`, 60)));
    await Promise.all([...onKilled, ...onSurvivor].map((s) => s.first));
    const killedAt = Date.now();
    await g1.stop('SIGKILL');
    for (const s of onSurvivor) {
      expect(await s.done).toBe(true);
      // Token by token after the kill, not everything at the end.
      expect(s.arrivals.filter((t) => t > killedAt).length).toBeGreaterThanOrEqual(5);
    }
    for (const s of onKilled) {
      expect(await s.done).toBe(false);
      const job = await waitForJob(cluster, s.jobId, (j) => j.status === 'succeeded' || j.status === 'failed', 60_000);
      expect(job.status).toBe('succeeded');
    }
    await g1.start();
    await cluster.waitForBackend('gateway', g1.name, 'UP');
  }, 120_000);

  test('a runner endpoint SIGKILLed with jobs in flight: runners reconnect through the other, no result is thrown away', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await api(cluster, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `in flight ${i}`, max_tokens: 50 })).json.id);
    await waitForJob(cluster, ids[0], (j) => j.status === 'running', 30_000);
    const [e1] = cluster.runnerEndpoints;
    await e1.stop('SIGKILL');
    const jobs = await waitForJobsInDb(cluster, ids, 90_000);
    expect(jobs.filter((j) => j.status !== 'succeeded')).toEqual([]);
    // A result refused by the endpoint that did not hand out its task reruns the attempt: none did.
    expect(await cluster.db.jobAttempt.count({ where: { jobId: { in: ids } } })).toBe(0);
    expect(await cluster.db.receipt.count({ where: { jobId: { in: ids } } })).toBe(6);
    await e1.start();
    await cluster.waitForBackend('runners', e1.name, 'UP');
  }, 150_000);

  test('a rolling restart of both orchestrators under load, with a signing-key rotation in the middle: every receipt verifies, no dispatch refused', async () => {
    const ids: string[] = [];
    let newKid: string | null = null;
    let activeAt = Infinity;
    // Jobs every 200 ms through both restarts, until 5 s after the new key is active (at least 30).
    const submitting = (async () => {
      while (ids.length < 30 || Date.now() < activeAt + 5000) {
        if (ids.length >= 200) throw new Error(`the new signing key never became active (${newKid})`);
        ids.push((await api(cluster, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `rolling ${ids.length}`, max_tokens: 8 })).json.id);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const [o1, o2] = cluster.orchestrators;
    const oldKid = (await cluster.db.signingKey.findFirstOrThrow({ where: { retiredAt: null } })).kid;
    await o1.stop('SIGTERM');
    newKid = (await cluster.addSigningKey()).kid;
    await o1.start();
    await o2.stop('SIGTERM');
    await o2.start();
    activeAt = (await cluster.db.signingKey.findUniqueOrThrow({ where: { kid: newKid } })).activatesAt.getTime();
    await submitting;
    const jobs = await waitForJobsInDb(cluster, ids, 120_000);
    expect(jobs.filter((j) => j.status !== 'succeeded')).toEqual([]);
    for (const id of ids) {
      const receipt = (await api(cluster, 'GET', `/v1/jobs/${id}/receipt`)).json;
      const pem = await (await fetch(`${cluster.baseUrl}/keys/${receipt.envelope.kid}.public.pem`)).text();
      expect({ id, check: await verifyReceipt(receipt, publicKeyFromPem(pem)) }).toEqual({ id, check: { ok: true, kid: receipt.envelope.kid } });
    }
    // The rotation happened in the middle: receipts from before it and after it.
    const kids = new Set((await cluster.db.receipt.findMany({ where: { jobId: { in: ids } }, select: { kid: true } })).map((r) => r.kid));
    expect(kids).toEqual(new Set([oldKid, newKid]));
    // Runners refused no dispatch: no attempt was lost to a signature they could not check.
    expect(await cluster.db.jobAttempt.count({ where: { jobId: { in: ids } } })).toBe(0);
  }, 240_000);
});

