/**
 * How fast the browser verifier checks a long chain: builds a session chain of
 * N receipts (default 10,000) signed like the orchestrator signs them, opens
 * verify-web from a file in Chromium, drops the chain on it, and prints the
 * verification time the page measured (runs of the same file), beside the
 * same verification in Node. Figures only; compare them run to run.
 *
 *   node --import tsx scripts/bench-verify.ts [receipts] [runs]
 */
import { createPrivateKey, sign } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import {
  CHAINED_RECEIPT_VERSION,
  canonicalBytes,
  canonicalize,
  canonicalizeInOrder,
  cidOfBytes,
  ed25519Engine,
  keyring,
  receiptDocumentBytes,
  verifyChain,
  type ReceiptChainDocument,
  type ReceiptEnvelope,
  type SignedReceipt,
} from '@trd/protocol';
import { buildWebPages } from './build-web.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../platform/signing-key.js';

const count = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const pem = generateSigningKeyPem();
const key = await signingKeyFromPem(pem);
const privateKey = createPrivateKey(pem);
const hex = (n: number) => n.toString(16).padStart(64, '0');

const built = performance.now();
const receipts: { cid: string; receipt: SignedReceipt }[] = [];
let prev: string | null = null;
const t0 = Date.parse('2026-11-26T00:00:00.000Z');
for (let seq = 0; seq < count; seq++) {
  const at = (ms: number) => new Date(t0 + seq * 1000 + ms).toISOString();
  const envelope: ReceiptEnvelope = {
    v: CHAINED_RECEIPT_VERSION,
    kid: key.kid,
    job_id: `job_${hex(seq).slice(-32)}`,
    worker_id: `runner-${seq % 7}`,
    model: 'trd-tiny',
    model_sha256: hex(1),
    prompt_sha256: hex(seq * 2 + 7),
    output_sha256: hex(seq * 3 + 11),
    prompt_tokens: 20 + (seq % 50),
    completion_tokens: 100 + (seq % 200),
    started_at: at(0),
    finished_at: at(400),
    duration_ms: 400,
    issued_at: at(450),
    session_id: 'bench-session',
    seq,
    prev,
  };
  const signature = sign(null, canonicalBytes(envelope), privateKey).toString('base64');
  const receipt = { envelope, signature };
  const cid = await cidOfBytes(receiptDocumentBytes(receipt));
  receipts.push({ cid, receipt });
  prev = cid;
}
const doc: ReceiptChainDocument = {
  session_id: 'bench-session',
  head: prev,
  count,
  receipts,
  keys: [{ kid: key.kid, public_key_pem: key.publicKeyPem, valid_from: '2026-01-01T00:00:00.000Z', valid_until: null }],
};
const dir = mkdtempSync(join(tmpdir(), 'bench-verify-'));
const file = join(dir, 'chain.json');
writeFileSync(file, JSON.stringify(doc));
console.log(`chain: ${count.toLocaleString('en-US')} receipts, ${(JSON.stringify(doc).length / 1e6).toFixed(1)} MB, built in ${((performance.now() - built) / 1000).toFixed(1)} s`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)} (${runs} runs)`;

const nodeTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const report = await verifyChain(JSON.parse(JSON.stringify(doc)), keyring(doc.keys));
  nodeTimes.push(performance.now() - started);
  if (!report.ok) throw new Error(`the generated chain does not verify in Node: ${report.problems.join('; ')}`);
}
console.log(`node ${process.version} (${await ed25519Engine()}): ${fmt(nodeTimes)}`);

// The envelopes' signed bytes, rebuilt the old way (canonicalize) and the verifier's way (canonicalizeInOrder), in this run.
const envelopes = (JSON.parse(JSON.stringify(doc)) as ReceiptChainDocument).receipts.map((r) => r.receipt.envelope as unknown as Record<string, unknown>);
const perEnvelope = (f: (e: Record<string, unknown>) => string) => {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    for (const e of envelopes) f(e);
    xs.push(((performance.now() - started) * 1000) / envelopes.length);
  }
  return median(xs);
};
const slow = perEnvelope(canonicalize);
const fast = perEnvelope(canonicalizeInOrder);
console.log(`node, an envelope's signed bytes: canonicalize ${slow.toFixed(1)} µs, canonicalizeInOrder ${fast.toFixed(1)} µs (×${(fast / slow).toFixed(2)}; medians of ${runs} passes)`);

await buildWebPages();
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const page = await browser.newPage();
const times: number[] = [];
let engine = '';
for (let i = 0; i < runs; i++) {
  await page.goto(pathToFileURL(join(process.cwd(), 'verify-web/index.html')).href);
  const wall = performance.now();
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => document.getElementById('timing')!.dataset.ms !== undefined, undefined, { timeout: 120_000 });
  const wallMs = performance.now() - wall;
  const shown = await page.evaluate(() => ({
    ok: document.getElementById('result')!.className === 'ok',
    ms: Number(document.getElementById('timing')!.dataset.ms),
    engine: document.getElementById('timing')!.dataset.engine!,
  }));
  if (!shown.ok) throw new Error('the page did not find the generated chain valid');
  times.push(shown.ms);
  engine = shown.engine;
  if (i === 0) console.log(`browser, first run from file drop to lines shown: ${wallMs.toFixed(0)} ms (reading and parsing the file, verifying, rendering ${count} lines)`);
}
console.log(`browser ${browser.version()} (${engine}): verification ${fmt(times)}; ${((median(times) * 1000) / count).toFixed(1)} µs per receipt`);
await browser.close();
