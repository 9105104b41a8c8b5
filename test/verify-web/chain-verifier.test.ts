/**
 * The verifier page on session chains, in Debian's Chromium: a real chain is
 * all green; a flipped byte, an unknown key and a reordered chain are each
 * flagged with the reason; a downloaded chain verifies from a file with no server.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { cidOfBytes, receiptDocumentBytes, signReceipt, type ReceiptChainDocument } from '@trd/protocol';
import { generateSigningKeyPem, signingKeyFromPem } from '../../platform/signing-key.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const PAGE_FILE = pathToFileURL(join(process.cwd(), 'verify-web/index.html')).href;
const SESSION = 'audit-me-1';
let stack: TestStack;
let browser: Browser;
let page: Page;
let chain: ReceiptChainDocument;
const dir = mkdtempSync(join(tmpdir(), 'verify-chain-'));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup.sh --browser or set CHROMIUM_PATH`);
  stack = await startStack();
  await stack.startRunner();
  const created = await Promise.all(
    [0, 1, 2, 3].map((i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `Audited step ${i}`, max_tokens: 5, session_id: SESSION })),
  );
  await Promise.all(created.map((c) => waitForJob(stack, c.json.id, (j) => j.status === 'succeeded')));
  chain = (await api(stack, 'GET', `/v1/sessions/${SESSION}/receipts`)).json;
  expect(chain.count).toBe(4);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

interface Shown {
  ok: boolean;
  summary: string;
  lines: { ok: boolean; text: string }[];
}

async function shown(): Promise<Shown> {
  await page.waitForFunction(() => {
    const r = document.getElementById('result')!;
    return (r.className === 'ok' || r.className === 'bad') && r.textContent !== 'Verifying…';
  });
  return page.evaluate(() => ({
    ok: document.getElementById('result')!.className === 'ok',
    summary: document.getElementById('result')!.textContent!,
    lines: Array.from(document.querySelectorAll('#lines li')).map((li) => ({ ok: li.className === 'ok', text: li.textContent! })),
  }));
}

/** Opens the page from a file (no server), and drops this chain document on it. */
async function verifyFile(doc: unknown, name: string): Promise<Shown> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
  await page.goto(PAGE_FILE);
  await page.setInputFiles('#file', file);
  return shown();
}

const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x));

describe('verify-web on a session chain', () => {
  test('a session looked up on the gateway is all green (screenshot in test-results/)', async () => {
    await page.goto(`${stack.baseUrl}/verify/?session=${SESSION}`);
    const result = await shown();
    expect(result.summary).toContain(`✓ Chain verified — session ${SESSION}: 4 receipts, head ${chain.head}`);
    expect(result.summary).toContain(`Keys from ${stack.baseUrl}/keys`);
    expect(result.lines.map((l) => l.ok)).toEqual([true, true, true, true]);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/verify-web-chain.png', fullPage: true });
  });

  test('a downloaded chain verifies from a file with no server, with the file’s keys', async () => {
    await page.route(/^https?:/, (route) => route.abort());
    try {
      const result = await verifyFile(chain, 'valid');
      expect(result.ok).toBe(true);
      expect(result.summary).toContain('Keys from the file itself');
      expect(result.lines.every((l) => l.ok)).toBe(true);
    } finally {
      await page.unrouteAll();
    }
  });

  test('one flipped byte in one receipt flags exactly that receipt', async () => {
    const text = JSON.stringify(chain, null, 2);
    // The prompt hash: unique to this receipt in the file (outputs of the tiny model may repeat).
    const target = chain.receipts[2].receipt.envelope.prompt_sha256;
    expect(text.split(target)).toHaveLength(2);
    const flipped = target.slice(0, 10) + (target[10] === 'a' ? 'b' : 'a') + target.slice(11);
    const result = await verifyFile(text.replace(target, flipped), 'flipped');
    expect(result.ok).toBe(false);
    expect(result.lines.map((l) => l.ok)).toEqual([true, true, false, true]);
    expect(result.lines[2].text).toContain('CID mismatch');
    expect(result.lines[2].text).toContain('bad signature');
    await page.screenshot({ path: 'test-results/verify-web-chain-flipped.png', fullPage: true });
  });

  test('a receipt signed by an unknown key is flagged', async () => {
    const rogue = await signingKeyFromPem(generateSigningKeyPem());
    const { v: _v, kid: _kid, ...fields } = chain.receipts[3].receipt.envelope;
    const forged = await signReceipt(fields, rogue.secretKey);
    const doc = copy(chain);
    doc.receipts[3] = { cid: await cidOfBytes(receiptDocumentBytes(forged)), receipt: forged };
    doc.head = doc.receipts[3].cid;
    const result = await verifyFile(doc, 'unknown-key');
    expect(result.lines.map((l) => l.ok)).toEqual([true, true, true, false]);
    expect(result.lines[3].text).toContain(`unknown key ${rogue.kid}`);
  });

  test('a reordered chain is flagged', async () => {
    const doc = copy(chain);
    [doc.receipts[1], doc.receipts[2]] = [doc.receipts[2], doc.receipts[1]];
    const result = await verifyFile(doc, 'reordered');
    expect(result.ok).toBe(false);
    expect(result.lines.some((l) => /out of order|missing receipt/.test(l.text))).toBe(true);
    expect(result.lines[0].ok).toBe(true);
  });

  test('a chain cut short of its head, or a missing receipt, is flagged', async () => {
    const cut = copy(chain);
    cut.receipts.pop();
    expect((await verifyFile(cut, 'cut')).summary).toContain(`not at the claimed head ${chain.head}`);
    const gap = copy(chain);
    gap.receipts.splice(1, 1);
    gap.count = 3;
    const result = await verifyFile(gap, 'gap');
    expect(result.lines.map((l) => [l.ok, l.text.includes('missing receipt: seq 1')])).toEqual([
      [true, false],
      [false, true],
      [true, false],
      [true, false],
    ]);
  });

  test('a receipt looked up by CID is fetched as a raw block and checked against its CID', async () => {
    const entry = chain.receipts[1];
    await page.goto(`${stack.baseUrl}/verify/?cid=${entry.cid}`);
    const result = await shown();
    expect(result.summary).toContain(`✓ Valid — signed by ${entry.receipt.envelope.kid}`);
    expect(result.summary).toContain(`CID ${entry.cid}`);
    expect(result.summary).toContain(`session ${SESSION} · seq 1 · prev ${chain.receipts[0].cid}`);
  });

  test('says what is wrong with input that is neither JSON nor a known id', async () => {
    expect((await verifyFile('{not json', 'garbage')).summary).toMatch(/^✗ Not valid JSON/);
    await page.goto(`${stack.baseUrl}/verify/`);
    await page.fill('#lookup', 'no such thing!');
    await page.click('#verify-lookup');
    expect((await shown()).summary).toBe('✗ "no such thing!" is not a session id, a job id (job_…) or a CID');
  });
});
