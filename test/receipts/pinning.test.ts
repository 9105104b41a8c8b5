/**
 * Pinning receipts with the real Lighthouse SDK against a local server that
 * speaks its wire format (test/support/lighthouse-fake.ts), on the real stack.
 * The orchestrator runs as its own process so it can be killed mid-pin.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { receiptDocumentBytes } from '@trd/protocol';
import { pinWorkflowId } from '../../platform/workflow-api.js';
import { startLighthouseFake, type LighthouseFake } from '../support/lighthouse-fake.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';
import { until } from '../support/until.js';

const API_KEY = 'lh-test-key-5f2c';
// Short, so the hung upload's attempt ends soon; not so short that a loaded machine times out an attempt Lighthouse
// answered (a fresh CI run's 1.5 s did: the upload was sent again, and "pinned once" failed).
const PIN_ATTEMPT_TIMEOUT_MS = 6000;
let stack: TestStack;
let lighthouse: LighthouseFake;

beforeAll(async () => {
  lighthouse = await startLighthouseFake(API_KEY);
  stack = await startStack({
    orchestrator: 'process',
    receipts: { lighthouseApiKey: API_KEY, lighthouseUrl: lighthouse.url, pin: { attemptTimeoutMs: PIN_ATTEMPT_TIMEOUT_MS, retryInitialMs: 100, retryMaxMs: 400 } },
  });
  await stack.startRunner();
});

afterAll(async () => {
  await stack?.stop();
  await lighthouse?.stop();
});

async function job(prompt: string): Promise<{ id: string; cid: string; bytes: Buffer }> {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt, max_tokens: 3 });
  const done = await waitForJob(stack, created.json.id, (j) => j.status === 'succeeded');
  return { id: done.id, cid: done.receipt_cid, bytes: Buffer.from(receiptDocumentBytes(done.receipt)) };
}

const pins = (cid: string) => stack.db.receiptPin.findMany({ where: { cid }, orderBy: { provider: 'asc' } });
const uploadsOf = (bytes: Buffer) => lighthouse.uploads.filter((u) => u.bytes.equals(bytes));

describe('pinning a receipt', () => {
  test('stores it locally and pins it to Lighthouse under the same CID, which its gateway resolves to the same bytes', async () => {
    lighthouse.mode = 'raw';
    const { cid, bytes } = await job('Pin me');
    const outcome = await stack.client.workflow.getHandle(pinWorkflowId(cid)).result();
    expect(outcome).toMatchObject({ cid, local: true, lighthouse: { pinned: true, providerCid: cid } });
    expect((await pins(cid)).map((p) => [p.provider, p.providerCid])).toEqual([
      ['lighthouse', cid],
      ['local', cid],
    ]);
    const sent = uploadsOf(bytes);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ authorization: `Bearer ${API_KEY}`, cidVersion: '1', answered: 200 });
    const fromGateway = Buffer.from(await (await fetch(`${lighthouse.url}/ipfs/${cid}`)).arrayBuffer());
    expect(fromGateway.equals(bytes)).toBe(true);
  });

  test('retries through 5xx answers, and jobs finish meanwhile', async () => {
    lighthouse.setDown(true);
    const { id, cid, bytes } = await job('Pinning service is down');
    // The job finished while Lighthouse answered 503.
    expect((await api(stack, 'GET', `/v1/jobs/${id}`)).json.status).toBe('succeeded');
    await until('three failed uploads', () => uploadsOf(bytes).length >= 3, 20_000, 100);
    expect((await pins(cid)).map((p) => p.provider)).toEqual(['local']);
    expect((await stack.client.workflow.getHandle(pinWorkflowId(cid)).describe()).status.name).toBe('RUNNING');
    lighthouse.setDown(false);
    await stack.client.workflow.getHandle(pinWorkflowId(cid)).result();
    const sent = uploadsOf(bytes);
    expect(sent.slice(0, -1).every((u) => u.answered === 503)).toBe(true);
    expect(sent.at(-1)!.answered).toBe(200);
    expect((await pins(cid)).map((p) => p.provider)).toEqual(['lighthouse', 'local']);
  });

  test('a pin in flight when the orchestrator is killed completes after it restarts', async () => {
    lighthouse.hangNext(1);
    const { cid, bytes } = await job('Kill the orchestrator while I am being pinned');
    await until('the upload to hang', () => uploadsOf(bytes).some((u) => u.answered === 'hung'), 20_000, 100);
    await stack.stopOrchestrator('SIGKILL');
    await stack.startOrchestrator();
    await stack.client.workflow.getHandle(pinWorkflowId(cid)).result();
    const sent = uploadsOf(bytes);
    expect(sent[0].answered).toBe('hung');
    expect(sent.at(-1)!.answered).toBe(200);
    expect((await pins(cid)).map((p) => [p.provider, p.providerCid])).toEqual([
      ['lighthouse', cid],
      ['local', cid],
    ]);
  });

  test('a UnixFS CID from the provider is recorded as what it is; a CID of other bytes is refused', async () => {
    lighthouse.mode = 'unixfs-v0';
    const wrapped = await job('Wrap me');
    const outcome = await stack.client.workflow.getHandle(pinWorkflowId(wrapped.cid)).result();
    const providerCid = outcome.lighthouse.providerCid!;
    expect(providerCid).toMatch(/^Qm/);
    const pin = (await pins(wrapped.cid)).find((p) => p.provider === 'lighthouse')!;
    expect(pin.providerCid).toBe(providerCid);
    expect(pin.detail).toContain('UnixFS');
    expect(Buffer.from(await (await fetch(`${lighthouse.url}/ipfs/${providerCid}`)).arrayBuffer()).equals(wrapped.bytes)).toBe(true);

    lighthouse.mode = 'wrong';
    const lied = await job('Lie about me');
    const failure = await stack.client.workflow.getHandle(pinWorkflowId(lied.cid)).result().then(() => null, (err) => err);
    expect(String(failure?.cause?.cause?.message ?? failure?.cause?.message)).toMatch(/names neither these bytes/);
    expect((await pins(lied.cid)).map((p) => p.provider)).toEqual(['local']);
    lighthouse.mode = 'raw';
  });
});
