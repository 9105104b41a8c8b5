/**
 * Session receipt chains on the real stack: concurrent jobs of one session give
 * one linear chain, the chain workflow's history stays bounded, the chain is
 * served and content-addressed, and a key rotation keeps old receipts valid.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { cidOfBytes, keyring, parseCid, receiptDocumentBytes, verifyChain, verifyReceipt, publicKeyFromPem, type ReceiptChainDocument } from '@trd/protocol';
import { chainWorkflowId } from '../../platform/workflow-api.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

let stack: TestStack;
const SESSION = 'build-2026.11-a';

beforeAll(async () => {
  // Short runs and a short idle time, so continue-as-new and a restart from the database both happen here.
  stack = await startStack({ receipts: { chain: { maxAppendsPerRun: 2, idleMs: 1500 } } });
  await stack.startRunner();
  await stack.startRunner();
});

afterAll(async () => {
  await stack?.stop();
});

async function runSessionJobs(n: number, session = SESSION): Promise<any[]> {
  const created = await Promise.all(
    Array.from({ length: n }, (_, i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `Step ${i} of the build`, max_tokens: 4 + (i % 3), session_id: session })),
  );
  for (const c of created) expect(c.status).toBe(202);
  return Promise.all(created.map((c) => waitForJob(stack, c.json.id, (j) => j.status === 'succeeded', 60_000)));
}

async function chain(session = SESSION): Promise<ReceiptChainDocument> {
  const res = await api(stack, 'GET', `/v1/sessions/${session}/receipts`);
  expect(res.status).toBe(200);
  return res.json;
}

/** Runs of the session's chain workflow, once visibility lists at least `atLeast` (it may lag a moment behind). */
async function chainRuns(atLeast: number): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    let runs = 0;
    for await (const _ of stack.client.workflow.list({ query: `WorkflowId = "${chainWorkflowId(SESSION)}"` })) runs++;
    if (runs >= atLeast || Date.now() > deadline) return runs;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a session receipt chain', () => {
  test('concurrent jobs of one session form one linear chain that verifies', async () => {
    const jobs = await runSessionJobs(8);
    const doc = await chain();
    expect(doc.count).toBe(8);
    expect(doc.receipts.map((r) => r.receipt.envelope.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(doc.receipts.map((r) => r.receipt.envelope.job_id))).toEqual(new Set(jobs.map((j) => j.id)));
    expect(doc.receipts[0].receipt.envelope.prev).toBeNull();
    for (let i = 1; i < doc.receipts.length; i++) expect(doc.receipts[i].receipt.envelope.prev).toBe(doc.receipts[i - 1].cid);
    expect(doc.head).toBe(doc.receipts[7].cid);
    for (const job of jobs) {
      const entry = doc.receipts.find((r) => r.receipt.envelope.job_id === job.id)!;
      expect(job.receipt_cid).toBe(entry.cid);
      expect(job.receipt).toEqual(entry.receipt);
      expect(job.session_id).toBe(SESSION);
    }
    const report = await verifyChain(doc, keyring(doc.keys));
    expect(report.problems).toEqual([]);
    expect(report.lines.map((l) => l.ok)).toEqual(Array(8).fill(true));
    // Eight appends at two per run (a run refuses a third; the caller appends again to the next run): four runs at least.
    expect(await chainRuns(4)).toBeGreaterThanOrEqual(4);
  });

  test('serves each receipt by CID as its exact bytes, which hash to that CID', async () => {
    const doc = await chain();
    for (const entry of doc.receipts.slice(0, 3)) {
      const res = await fetch(`${stack.baseUrl}/ipfs/${entry.cid}?format=raw`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw');
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(await cidOfBytes(bytes)).toBe(entry.cid);
      expect(Buffer.from(bytes).equals(Buffer.from(receiptDocumentBytes(entry.receipt)))).toBe(true);
      // CIDv1, raw codec, sha2-256: its digest is the plain SHA-256 of the bytes, which anyone can recompute.
      const cid = parseCid(entry.cid);
      expect([cid.version, cid.code, cid.multihash.code]).toEqual([1, 0x55, 0x12]);
      expect(Buffer.from(cid.multihash.digest).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    const bad = await fetch(`${stack.baseUrl}/ipfs/not-a-cid`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/not a CID/);
    const missing = await fetch(`${stack.baseUrl}/ipfs/${await cidOfBytes(new TextEncoder().encode('never stored'))}`);
    expect(missing.status).toBe(404);
  });

  test('an idle chain completes, and the next job continues it from the database', async () => {
    const before = await chain();
    const handle = stack.client.workflow.getHandle(chainWorkflowId(SESSION));
    const deadline = Date.now() + 20_000;
    while ((await handle.describe()).status.name !== 'COMPLETED') {
      if (Date.now() > deadline) throw new Error('the chain workflow did not complete after going idle');
      await new Promise((r) => setTimeout(r, 200));
    }
    const [job] = await runSessionJobs(1);
    expect(job.receipt.envelope).toMatchObject({ session_id: SESSION, seq: before.count, prev: before.head });
    const report = await verifyChain(await chain(), keyring(before.keys));
    expect(report.ok).toBe(true);
  });

  test('after a key rotation, old receipts verify with the old key and new ones with the new key', async () => {
    const oldKid = stack.signingKey.kid;
    const newKey = await stack.rotateSigningKey();
    expect(newKey.kid).not.toBe(oldKid);
    const [job] = await runSessionJobs(1);
    expect(job.receipt.envelope.kid).toBe(newKey.kid);

    const keys = (await api(stack, 'GET', '/keys')).json.keys as any[];
    const oldKey = keys.find((k) => k.kid === oldKid);
    const current = keys.find((k) => k.kid === newKey.kid);
    expect(oldKey.valid_until).not.toBeNull();
    expect(current.valid_until).toBeNull();
    expect(Date.parse(current.valid_from)).toBeGreaterThanOrEqual(Date.parse(oldKey.valid_until));

    const doc = await chain();
    const report = await verifyChain(doc, keyring(keys));
    expect(report.problems).toEqual([]);
    expect(report.lines.every((l) => l.ok)).toBe(true);
    const kids = doc.receipts.map((r) => r.receipt.envelope.kid);
    expect(kids.slice(0, -1).every((k) => k === oldKid)).toBe(true);
    expect(await verifyReceipt(doc.receipts[0].receipt, publicKeyFromPem(oldKey.public_key_pem))).toEqual({ ok: true, kid: oldKid });
    expect(await verifyReceipt(doc.receipts.at(-1)!.receipt, publicKeyFromPem(current.public_key_pem))).toEqual({ ok: true, kid: newKey.kid });
    // With only the new key published, the old receipts are flagged as signed by an unknown key.
    const newOnly = await verifyChain(doc, keyring([current]));
    expect(newOnly.lines.filter((l) => !l.ok).map((l) => l.detail)).toEqual(Array(doc.count - 1).fill(`unknown key ${oldKid}`));
  });

  test("another customer cannot join a session, and a bad session id is refused; neither changes the chain", async () => {
    const before = await chain();
    const other = await stack.newApiKey('another customer');
    const taken = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'x', max_tokens: 2, session_id: SESSION }, other);
    expect(taken.status).toBe(409);
    expect(taken.json.error).toMatchObject({ code: 'session_taken', param: 'session_id' });
    const bad = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'x', max_tokens: 2, session_id: '../etc' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('session_id');
    expect((await chain()).count).toBe(before.count);
    expect((await api(stack, 'GET', '/v1/sessions/no-such-session/receipts')).status).toBe(404);
  });
});
