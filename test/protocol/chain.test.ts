/**
 * The chain verifier (protocol/chain.ts), the code verify-web runs, on chains
 * built here: every kind of damage gets its own red line and reason, nothing
 * throws, and CIDs match what multiformats and IPFS compute.
 */
import { describe, expect, test } from '@jest/globals';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import {
  canonicalBytes,
  cidOfBytes,
  documentText,
  canonicalize,
  keyring,
  receiptDocumentBytes,
  signReceipt,
  verifyChain,
  type PublishedKey,
  type ReceiptChainDocument,
} from '@trd/protocol';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../../platform/signing-key.js';
import { RECEIPT_FIELDS } from '../support/receipt-fields.js';

const base = RECEIPT_FIELDS;

function published(key: SigningKey, from = '2026-01-01T00:00:00.000Z', until: string | null = null): PublishedKey {
  return { kid: key.kid, public_key_pem: key.publicKeyPem, valid_from: from, valid_until: until };
}

async function buildChain(n: number, keyFor: (seq: number) => SigningKey, session = 'build-1'): Promise<ReceiptChainDocument> {
  const receipts: ReceiptChainDocument['receipts'] = [];
  let prev: string | null = null;
  for (let seq = 0; seq < n; seq++) {
    const issued = new Date(Date.parse('2026-03-01T00:00:02.000Z') + seq * 60_000).toISOString();
    const receipt = await signReceipt({ ...base, job_id: `job_${String(seq).padStart(32, '0')}`, issued_at: issued, session_id: session, seq, prev }, keyFor(seq).secretKey);
    const cid = await cidOfBytes(receiptDocumentBytes(receipt));
    receipts.push({ cid, receipt });
    prev = cid;
  }
  return { session_id: session, head: prev, count: n, receipts, keys: [] };
}

const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const newKey = async () => signingKeyFromPem(generateSigningKeyPem());

describe('receipt CIDs', () => {
  test('are CIDv1 raw sha2-256, as multiformats and `ipfs add --cid-version=1` give them', async () => {
    const bytes = new TextEncoder().encode('hello world\n');
    expect(await cidOfBytes(bytes)).toBe('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4');
    for (const size of [0, 1, 31, 700, 4096]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31 + size) & 255);
      expect(await cidOfBytes(data)).toBe(CID.createV1(raw.code, await sha256.digest(data)).toString());
    }
  });

  test("the verifier's document text is the canonical document", async () => {
    const key = await newKey();
    const doc = (await buildChain(2, () => key)).receipts[1].receipt;
    expect(documentText(canonicalize(doc.envelope), doc.signature)).toBe(new TextDecoder().decode(canonicalBytes(doc)));
  });
});

describe('verifyChain', () => {
  test('a whole chain verifies, line by line', async () => {
    const key = await newKey();
    const doc = await buildChain(5, () => key);
    const report = await verifyChain(doc, keyring([published(key)]));
    expect(report.ok).toBe(true);
    expect(report.lines.map((l) => [l.seq, l.ok])).toEqual([0, 1, 2, 3, 4].map((s) => [s, true]));
  });

  test('a changed field flags only that receipt, with a CID mismatch and a bad signature', async () => {
    const key = await newKey();
    const doc = copy(await buildChain(5, () => key));
    doc.receipts[2].receipt.envelope.completion_tokens += 1;
    const report = await verifyChain(doc, keyring([published(key)]));
    expect(report.lines.map((l) => l.ok)).toEqual([true, true, false, true, true]);
    expect(report.lines[2].detail).toMatch(/^CID mismatch: .*; bad signature$/);
  });

  test('a key outside its validity period, or unknown, is named', async () => {
    const [a, b] = [await newKey(), await newKey()];
    const doc = await buildChain(4, (seq) => (seq < 2 ? a : b));
    // b published as valid only from after its receipts were issued.
    const report = await verifyChain(doc, keyring([published(a, '2026-01-01T00:00:00.000Z', '2026-03-01T00:01:30.000Z'), published(b, '2026-03-02T00:00:00.000Z')]));
    expect(report.lines.map((l) => l.detail)).toEqual([
      'signature, CID and link verified',
      'signature, CID and link verified',
      `key ${b.kid} was not in use at 2026-03-01T00:02:02.000Z`,
      `key ${b.kid} was not in use at 2026-03-01T00:03:02.000Z`,
    ]);
    const unknown = await verifyChain(doc, keyring([published(a)]));
    expect(unknown.lines.map((l) => l.ok)).toEqual([true, true, false, false]);
    expect(unknown.lines[2].detail).toBe(`unknown key ${b.kid}`);
  });

  test('a missing receipt, a reordering, a foreign receipt and a wrong head are each reported', async () => {
    const key = await newKey();
    const keys = keyring([published(key)]);
    const doc = await buildChain(5, () => key);

    const gap = copy(doc);
    gap.receipts.splice(2, 1);
    expect((await verifyChain(gap, keys)).lines.map((l) => [l.ok, l.detail.startsWith('missing receipt: seq 2')])).toEqual([
      [true, false],
      [true, false],
      [false, true],
      [true, false],
      [true, false],
    ]);

    const swapped = copy(doc);
    [swapped.receipts[3], swapped.receipts[1]] = [swapped.receipts[1], swapped.receipts[3]];
    const swappedReport = await verifyChain(swapped, keys);
    expect(swappedReport.ok).toBe(false);
    expect(swappedReport.lines.filter((l) => !l.ok).length).toBeGreaterThanOrEqual(2);

    const other = await buildChain(2, () => key, 'build-2');
    const foreign = copy(doc);
    foreign.receipts[1] = other.receipts[1];
    expect((await verifyChain(foreign, keys)).lines[1].detail).toContain('belongs to session build-2, not build-1');

    const broken = copy(doc);
    const { v: _v, kid: _kid, ...fields } = doc.receipts[3].receipt.envelope;
    const relinked = await signReceipt({ ...fields, prev: doc.receipts[0].cid }, key.secretKey);
    broken.receipts[3] = { cid: await cidOfBytes(receiptDocumentBytes(relinked)), receipt: relinked };
    expect((await verifyChain(broken, keys)).lines[3].detail).toBe(`broken link: prev is ${doc.receipts[0].cid}, the receipt before it is ${doc.receipts[2].cid}`);

    const head = copy(doc);
    head.head = doc.receipts[2].cid;
    expect((await verifyChain(head, keys)).problems).toEqual([`the chain ends at ${doc.receipts[4].cid}, not at the claimed head ${doc.receipts[2].cid}`]);
  });

  test('never throws on hostile input: each bad entry gets a reason', async () => {
    const key = await newKey();
    const keys = keyring([published(key), { kid: 'x', public_key_pem: 'not a pem', valid_from: 'never', valid_until: null }]);
    for (const doc of [null, 42, 'chain', [], {}, { session_id: 's' }, { session_id: 's', receipts: 'no' }]) {
      const report = await verifyChain(doc, keys);
      expect(report.ok).toBe(false);
      expect(report.problems.length).toBeGreaterThan(0);
    }
    const bad = await verifyChain(
      { session_id: 's', head: null, receipts: [null, 7, {}, { cid: 5, receipt: { envelope: { v: 2 }, signature: '' } }, { cid: 'x', receipt: { envelope: { ...base, v: 9 }, signature: 'AA==' } }] },
      keys,
    );
    expect(bad.lines.map((l) => l.ok)).toEqual([false, false, false, false, false]);
    expect(bad.lines[0].detail).toBe('not a chain entry ({ cid, receipt })');
    expect(bad.lines[4].detail).toBe('malformed receipt: unsupported receipt version 9');
  });
});
