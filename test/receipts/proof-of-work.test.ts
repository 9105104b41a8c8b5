/**
 * Proof of work pinned, end to end on a whole platform (each part its own
 * process, as in production): a customer who sends an X25519 public key gets
 * a receipt naming a sealed blob of the job's prompt and output; the blob is
 * pinned through the pin workflow and served by CID; only the customer's key
 * opens it, and the verify page does so in the browser. Neither Temporal's
 * history nor any process's log holds the plaintext.
 * TRD_RECORD_HISTORIES=1 records the replay fixture inference-job-proof.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { cidOfBytes, openProof, parseProofPrivateKey, proofProblems, workflowIdForJob, type SignedReceipt } from '@trd/protocol';
import { pinWorkflowId } from '../../platform/workflow-api.js';
import { launchChromium } from '../support/chromium.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { startLighthouseFake, type LighthouseFake } from '../support/lighthouse-fake.js';
import { isSealed, openSealed, payloadsOf, rawHistory } from '../support/raw-histories.js';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let lighthouse: LighthouseFake;
const LIGHTHOUSE_KEY = 'lh-proof-test-key';
const logs: string[] = [];
const canary = `PROOF-CANARY-${randomBytes(6).toString('hex')}`;
const customer = x25519();
const stranger = x25519();
let job: any;
let receipt: SignedReceipt;
let blob: Uint8Array;
let chatJobId: string;
let chatText: string;
let browser: Browser;
let page: Page;

function x25519() {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicRaw: publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64'),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

beforeAll(async () => {
  lighthouse = await startLighthouseFake(LIGHTHOUSE_KEY);
  stack = await startStack({
    orchestrator: 'process',
    gateway: 'process',
    echo: (line) => logs.push(line),
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
    receipts: { lighthouseApiKey: LIGHTHOUSE_KEY, lighthouseUrl: lighthouse.url, pin: { attemptTimeoutMs: 3000, retryInitialMs: 100, retryMaxMs: 400 } },
  });
  await stack.startRunner();
  const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `Prove this: ${canary}`, max_tokens: 24, trd_proof: { public_key: customer.publicPem } });
  expect(res.status).toBe(200);
  job = res.json;
  expect(job.status).toBe('succeeded');
  receipt = job.receipt;
  const fetched = await fetch(`${stack.baseUrl}/ipfs/${receipt.envelope.proof_cid}?format=raw`);
  expect(fetched.status).toBe(200);
  blob = new Uint8Array(await fetched.arrayBuffer());
  // The OpenAI route takes the same field (a raw base64 key here).
  const chat = await api(stack, 'POST', '/v1/chat/completions', {
    model: 'trd-tiny',
    messages: [{ role: 'user', content: `Also prove: ${canary}` }],
    max_tokens: 16,
    trd_proof: { public_key: customer.publicRaw },
  });
  expect(chat.status).toBe(200);
  chatJobId = chat.headers.get('x-trd-job-id')!;
  chatText = chat.json.choices[0].message.content;
  if (process.env.TRD_RECORD_HISTORIES) {
    const history = await stack.client.workflow.getHandle(workflowIdForJob(job.id)).fetchHistory();
    writeFileSync(new URL('../fixtures/histories/inference-job-proof.json', import.meta.url), `${historyToJSON(history)}\n`);
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await lighthouse?.stop();
});

describe('the receipt and the pinned blob', () => {
  test('round trip: the receipt names the blob; fetched by CID it is those bytes; the customer’s key opens it and it matches the receipt’s hashes', async () => {
    expect(receipt.envelope).toMatchObject({ job_id: job.id, proof_v: 1, proof_cid: expect.stringMatching(/^bafkrei/) });
    expect(await cidOfBytes(blob)).toBe(receipt.envelope.proof_cid);
    const opened = await openProof(blob, parseProofPrivateKey(customer.privatePem));
    if (!opened.ok) throw new Error(opened.reason);
    expect(opened.contents).toEqual({ v: 1, job_id: job.id, prompt: `Prove this: ${canary}`, output: job.output });
    expect(await proofProblems(opened.contents, receipt.envelope)).toEqual([]);
    // Sealed: the bytes anyone can fetch hold neither text.
    const text = Buffer.from(blob).toString('latin1');
    expect(text).not.toContain(canary);
    expect(text).not.toContain(job.output);
  });

  test('the blob went through the pin workflow, as receipts do: the local store and Lighthouse, whose gateway serves the same bytes', async () => {
    const cid = receipt.envelope.proof_cid!;
    const pin = await stack.client.workflow.getHandle(pinWorkflowId(cid)).result();
    expect(pin).toMatchObject({ cid, local: true, lighthouse: { pinned: true, providerCid: cid } });
    expect((await stack.db.receiptPin.findMany({ where: { cid }, orderBy: { provider: 'asc' } })).map((p) => p.provider)).toEqual(['lighthouse', 'local']);
    const pinned = new Uint8Array(await (await fetch(`${lighthouse.url}/ipfs/${cid}`)).arrayBuffer());
    expect(await cidOfBytes(pinned)).toBe(cid);
    expect(await openProof(pinned, parseProofPrivateKey(customer.privatePem))).toMatchObject({ ok: true });
  });

  test('a chat completion asked for a proof gets one, of its messages and its answer', async () => {
    const r = (await api(stack, 'GET', `/v1/receipts/${chatJobId}`)).json as SignedReceipt;
    const bytes = new Uint8Array(await (await fetch(`${stack.baseUrl}/ipfs/${r.envelope.proof_cid}`)).arrayBuffer());
    const opened = await openProof(bytes, parseProofPrivateKey(customer.privatePem));
    if (!opened.ok) throw new Error(opened.reason);
    expect(opened.contents.prompt).toContain(canary);
    expect(opened.contents.output).toBe(chatText);
    expect(await proofProblems(opened.contents, r.envelope)).toEqual([]);
  });

  test('a tampered blob is refused, and so is a wrong key', async () => {
    const key = parseProofPrivateKey(customer.privatePem);
    const doc = JSON.parse(new TextDecoder().decode(blob));
    const ct = Buffer.from(doc.ciphertext, 'base64');
    ct[ct.length - 20]! ^= 0x01;
    const tampered = new TextEncoder().encode(JSON.stringify({ ...doc, ciphertext: ct.toString('base64') }));
    expect(await cidOfBytes(tampered)).not.toBe(receipt.envelope.proof_cid);
    expect(await openProof(tampered, key)).toEqual({ ok: false, reason: 'the blob was altered: its ciphertext fails the authentication tag' });
    expect(await openProof(blob, parseProofPrivateKey(stranger.privatePem))).toEqual({ ok: false, reason: 'wrong key: this blob was not sealed to the key given' });
  });

  test('a bad key at the boundary: 400 naming the field, and no job is recorded', async () => {
    const before = await stack.db.job.count();
    const notAKey = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'x', max_tokens: 2, trd_proof: { public_key: 'not-a-key' } });
    expect(notAKey.status).toBe(400);
    expect(notAKey.json.error.message).toMatch(/X25519 public key/);
    const lowOrder = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'x', max_tokens: 2, trd_proof: { public_key: Buffer.alloc(32).toString('base64') } });
    expect(lowOrder.status).toBe(400);
    expect(lowOrder.json.error).toMatchObject({ param: 'trd_proof.public_key', message: expect.stringMatching(/low-order point/) });
    const extra = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'x', max_tokens: 2, trd_proof: { public_key: customer.publicRaw, private_key: 'x' } });
    expect(extra.status).toBe(400);
    expect(await stack.db.job.count()).toBe(before);
  });
});

/** The history's payloads opened with the platform's own keys: what the platform itself could read back. */
function openedPayloads(text: string): string[] {
  return payloadsOf(JSON.parse(text)).map((p) => (isSealed(p) ? openSealed(stack, p) : Buffer.from(p.data ?? '', 'base64').toString('utf8')));
}

describe("Temporal's history and the logs", () => {
  test('the job’s and the pin’s histories, read raw, hold no prompt or output; opened with the platform’s keys, what the proof added holds only its CID', () => {
    const cid = receipt.envelope.proof_cid!;
    const ciphertext = JSON.parse(new TextDecoder().decode(blob)).ciphertext as string;
    const jobHistory = rawHistory(stack, workflowIdForJob(job.id));
    const pinHistory = rawHistory(stack, pinWorkflowId(cid));
    for (const text of [jobHistory, pinHistory]) {
      const raw = text + payloadsOf(JSON.parse(text)).map((p) => Buffer.from(p.data ?? '', 'base64').toString('latin1')).join('\n');
      for (const secret of [canary, job.output]) expect(raw).not.toContain(secret);
    }
    // The pin workflow carries the CID, never the blob or its plaintext, even to the platform's keys.
    const pin = openedPayloads(pinHistory).join('\n');
    expect(pin).toContain(cid);
    for (const secret of [canary, job.output, ciphertext.slice(0, 40)]) expect(pin).not.toContain(secret);
    // In the job's history the sealing's answer is the CID alone: no blob; the prompt and output it sealed are the job's own input and result, as for every job.
    const opened = openedPayloads(jobHistory);
    const sealing = opened.filter((p) => p.includes(cid) && !p.includes('"envelope"'));
    expect(sealing.length).toBeGreaterThan(0);
    for (const p of sealing) {
      expect(JSON.parse(p)).toEqual({ cid });
    }
    expect(opened.join('\n')).not.toContain(ciphertext.slice(0, 40));
  });

  test("no process's output carries the prompt, the output, or a key", () => {
    expect(logs.length).toBeGreaterThan(5);
    const all = logs.join('\n');
    for (const secret of [canary, job.output, chatText, customer.privatePem.split('\n')[1]!, customer.publicRaw]) expect(all).not.toContain(secret);
  });
});

describe('the verify page opens it in the browser', () => {
  async function lookUp(key: string): Promise<string> {
    await page.goto(`${stack.baseUrl}/verify/`);
    await page.locator('#proof-details').evaluate((d) => ((d as HTMLDetailsElement).open = true));
    await page.fill('#proof-key', key);
    await page.fill('#lookup', job.id);
    await page.click('#verify-lookup');
    // "Verifying…" shows first, styled as ok: wait for the verdict.
    await page.waitForFunction(() => /^[✓✗]/.test(document.getElementById('result')?.textContent ?? ''));
    return (await page.textContent('#result'))!;
  }

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
  });

  test('with the customer’s key: opened, matched, and the sealed texts shown', async () => {
    const text = await lookUp(customer.privatePem);
    expect(text).toContain('✓ Valid');
    expect(text).toContain(`✓ proof of work ${receipt.envelope.proof_cid} opened: its prompt and output match the receipt's hashes`);
    expect(await page.textContent('#proof-output')).toBe(job.output);
    expect(await page.textContent('#proof-prompt')).toContain(canary);
  });

  test('with another key: refused as a wrong key; a tampered blob: refused by its CID', async () => {
    expect(await lookUp(stranger.privatePem)).toContain('✗ proof: wrong key: this blob was not sealed to the key given');
    const doc = JSON.parse(new TextDecoder().decode(blob));
    const ct = Buffer.from(doc.ciphertext, 'base64');
    ct[0]! ^= 0x01;
    await page.route('**/ipfs/**', (route) => route.fulfill({ status: 200, contentType: 'application/vnd.ipld.raw', body: JSON.stringify({ ...doc, ciphertext: ct.toString('base64') }) }));
    try {
      expect(await lookUp(customer.privatePem)).toMatch(/✗ proof: CID mismatch: asked for bafkrei\w+, the bytes fetched hash to bafkrei\w+/);
    } finally {
      await page.unroute('**/ipfs/**');
    }
  });

  test('without a key it says the proof is sealed, and the receipt is still valid', async () => {
    const text = await lookUp('');
    expect(text).toContain('✓ Valid');
    expect(text).toContain(`proof of work ${receipt.envelope.proof_cid} (sealed: give its key to open it)`);
  });
});
