/**
 * The cascade end to end, against real OpenAI-compatible servers: a second
 * platform (its own namespace, database, gateway and runner) is one provider,
 * a small server that answers 429 or stalls is the other. This platform has no
 * runner, so its jobs fall through: the official `openai` client gets the
 * same objects (plain and streamed) as from a runner, and the receipt, the
 * job and the ledger say which tier served and what it cost.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { verifyReceipt, workflowIdForJob } from '@trd/protocol';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createUpstreamActivities } from '../../activities/upstream-activities.js';
import { parseCascade } from '../../cascade/config.js';
import { throughNetwork } from '../../cascade/share.js';
import type { LocalPlatform } from '../../devstack/platform.js';
import { upstreamChargeMicrocredits } from '../../economy/billing.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { startSecondPlatform } from '../support/second-platform.js';
import { startFlakyProvider, type FlakyProvider } from '../support/flaky-provider.js';
import { api, testNamespace, useStack } from '../support/stack.js';

const price = { per: 'token', promptMicrocreditsPer1k: 2000, completionMicrocreditsPer1k: 6000 } as const;
const cost = { per: 'token', promptMicrocreditsPer1k: 1000, completionMicrocreditsPer1k: 3000 } as const;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const messages = [{ role: 'user' as const, content: 'Who serves this?' }];

let peer: LocalPlatform;
let flaky: FlakyProvider;
let client: OpenAI;

beforeAll(async () => {
  flaky = await startFlakyProvider('429');
  peer = await startSecondPlatform(`${testNamespace()}-peer`);
  await peer.startRunner({ workerId: 'peer-runner', env: { TRD_RUNNER_FAULTS: 'token-delay-ms=15' } });
}, 120_000);

const stack = useStack(
  () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'cascade-key-')), 'peer.key');
    writeFileSync(keyFile, `${peer.apiKey}\n`);
    const cascade = parseCascade({
      version: 1,
      models: {
        'trd-tiny': [
          { kind: 'network' },
          { kind: 'provider', name: 'flaky', baseUrl: flaky.baseUrl, model: 'flaky-tiny', price, cost, timeoutMs: 1500, concurrency: 4, maxAttempts: 2, retryInitialIntervalMs: 100 },
          { kind: 'provider', name: 'peer', baseUrl: `${peer.baseUrl}/v1`, model: 'trd-tiny', apiKey: { file: keyFile }, price, cost, timeoutMs: 30_000, concurrency: 4, maxAttempts: 2 },
        ],
      },
      // The platform's own traffic: half through the network first, half straight up.
      shares: [{ match: { header: { name: 'X-TRD-Traffic', value: 'platform' } }, networkBps: 5000 }],
    });
    return { settings: { cascade }, payloadKeys: FIXTURE_PAYLOAD_KEYS };
  },
  async (s) => {
    client = new OpenAI({ apiKey: s.apiKey, baseURL: `${s.baseUrl}/v1`, maxRetries: 0 });
  },
);

afterAll(async () => {
  await peer?.stop();
  await flaky?.stop();
});

/** The ledger's postings of a job, by account. */
async function postings(jobId: string): Promise<Record<string, number>> {
  const entries = await stack.db.ledgerEntry.findMany({ where: { transactionId: `job:${jobId}` } });
  return Object.fromEntries(entries.map((e) => [e.account, Number(e.amount)]));
}

describe('falling through to upstream tiers', () => {
  test('no runner: the 429 tier is retried, then passed; the peer platform serves; receipt, job and ledger name provider:peer', async () => {
    flaky.mode = '429';
    const before = flaky.requests.length;
    const { data, response } = await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 8, temperature: 0 }).withResponse();
    // The very object a runner's answer makes (test/openai has those): only trd_served_by tells them apart.
    expect(Object.keys(data).sort()).toEqual(['choices', 'created', 'id', 'model', 'object', 'trd_job_id', 'trd_receipt', 'trd_served_by', 'usage']);
    const jobId = response.headers.get('x-trd-job-id')!;
    expect(response.headers.get('x-trd-served-by')).toBe('provider:peer');
    expect(data).toMatchObject({ object: 'chat.completion', model: 'trd-tiny', trd_served_by: 'provider:peer', choices: [{ index: 0, message: { role: 'assistant' } }] });
    expect(flaky.requests.slice(before)).toEqual(['/v1/chat/completions', '/v1/chat/completions']);
    const content = data.choices[0]!.message.content!;

    // Signed by this platform, saying who served, with no worker and the output's hash as always.
    const receipt = (data as any).trd_receipt;
    expect(await verifyReceipt(receipt, stack.signingKey.publicKey)).toMatchObject({ ok: true });
    expect(receipt.envelope).toMatchObject({ job_id: jobId, served_by: 'provider:peer', upstream_model: 'trd-tiny', output_sha256: sha256(content), completion_tokens: data.usage!.completion_tokens });
    expect(receipt.envelope).not.toHaveProperty('worker_id');

    // The peer ran it as a job of its own, on its runner.
    const peerJobs = await peer.db.job.findMany({ where: { status: 'succeeded' } });
    expect(peerJobs.map((j) => [j.workerId, j.output])).toContainEqual(['peer-runner', content]);

    // Billed at the tier's price; the provider's cost and the margin in the ledger; no runner earns.
    const job = (await api(stack, 'GET', `/v1/jobs/${jobId}`)).json;
    expect(job).toMatchObject({ status: 'succeeded', served_by: 'provider:peer', worker_id: null });
    const usage = { promptTokens: data.usage!.prompt_tokens, completionTokens: data.usage!.completion_tokens, answerMs: 0 };
    const charge = upstreamChargeMicrocredits(price, usage);
    const owed = upstreamChargeMicrocredits(cost, usage);
    expect(job.billing.charge_microcredits).toBe(charge);
    expect(charge).toBeGreaterThan(0);
    const customerId = (await stack.db.job.findUniqueOrThrow({ where: { id: jobId } })).customerId;
    expect(await postings(jobId)).toEqual({ [`customer:${customerId}`]: -charge, 'provider:peer': owed, 'platform:revenue': charge - owed });
    expect(Number((await stack.db.job.findUniqueOrThrow({ where: { id: jobId } })).providerCostMicrocredits)).toBe(owed);

    if (process.env.TRD_RECORD_HISTORIES) {
      const history = await stack.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
      writeFileSync(new URL('../fixtures/histories/inference-job-cascade.json', import.meta.url), `${historyToJSON(history)}\n`);
    }
  });

  test('streamed: a stalling tier times out and is passed; the peer’s text arrives in pieces and adds up to the result', async () => {
    flaky.mode = 'stall';
    const stream = await client.chat.completions.create({ model: 'trd-tiny', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const pieces: string[] = [];
    let last: any = null;
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta?.content;
      if (text) pieces.push(text);
      if (chunk.choices[0]?.finish_reason) last = chunk;
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(last).toMatchObject({ trd_served_by: 'provider:peer' });
    const job = (await api(stack, 'GET', `/v1/jobs/${last.trd_job_id}`)).json;
    expect(pieces.join('')).toBe(job.output);
    expect(job.served_by).toBe('provider:peer');
    expect(job.error).toBeNull();
  });

  test('front-of-chain share: of the platform’s own traffic, the jobs its id puts in the share try the network first, the rest go straight up; /v1/stats counts each tier', async () => {
    flaky.mode = 'fail';
    const routes: Array<[boolean, boolean]> = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', 'x-trd-traffic': 'platform' },
        body: JSON.stringify({ model: 'trd-tiny', messages: [{ role: 'user', content: `own traffic ${i}` }], max_tokens: 2, temperature: 0 }),
      });
      expect(res.status).toBe(200);
      const jobId = res.headers.get('x-trd-job-id')!;
      const history = await stack.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
      const first = history.events!.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!.taskQueue!.name!;
      // Through the network: the warm queue first; straight up: the upstream call first.
      routes.push([throughNetwork(jobId, 5000), first !== 'orchestrator']);
    }
    for (const [expected, seen] of routes) expect(seen).toBe(expected);
    const stats = (await api(stack, 'GET', '/v1/stats', undefined, null)).json;
    expect(stats.served_by_24h).toEqual({ 'provider:peer': { jobs: 6, share: 1 } });
  });

  test('a provider’s concurrency limit holds across orchestrators: while one call holds the only slot, another passes on at once', async () => {
    flaky.mode = 'stall';
    const solo = parseCascade({
      version: 1,
      models: { 'trd-tiny': [{ kind: 'provider', name: 'solo', baseUrl: flaky.baseUrl, model: 'solo-tiny', price, cost, timeoutMs: 20_000, concurrency: 1 }] },
    });
    // Two orchestrators' activities over the one database.
    const [one, two] = [createUpstreamActivities({ db: stack.db, cascade: solo }), createUpstreamActivities({ db: stack.db, cascade: solo })];
    const call = (jobId: string) => ({ jobId, tier: 'solo', model: 'trd-tiny', prompt: 'p', maxTokens: 2, temperature: 0, stream: false });
    const holder = new MockActivityEnvironment();
    const held = holder.run(one.callUpstream, call('job_holder')).catch((err: Error) => err);
    while ((await stack.db.upstreamLease.count({ where: { provider: 'solo' } })) === 0) await new Promise((r) => setTimeout(r, 50));
    await expect(new MockActivityEnvironment().run(two.callUpstream, call('job_second'))).rejects.toMatchObject({ type: 'UpstreamBusy' });
    holder.cancel();
    expect(await held).toMatchObject({ type: 'UpstreamUnavailable' });
    // The slot is given back when the call ends.
    expect(await stack.db.upstreamLease.count({ where: { provider: 'solo' } })).toBe(0);
  });
});
