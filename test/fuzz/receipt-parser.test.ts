/**
 * The receipt and chain parser that verify-web runs on whatever an auditor
 * pastes or downloads: arbitrary JSON and mutated valid receipts/chains get a
 * reason (never an exception), and a changed signed receipt never verifies.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { CID } from 'multiformats/cid';
import { base32 } from 'multiformats/bases/base32';
import { base36 } from 'multiformats/bases/base36';
import { base58btc } from 'multiformats/bases/base58';
import * as Digest from 'multiformats/hashes/digest';
import {
  canonicalize,
  checkEntries,
  cidOfBytes,
  keyring,
  parseCid,
  parseReceipt,
  publicKeyFromPem,
  receiptDocumentBytes,
  signReceipt,
  verifyChain,
  verifyReceipt,
  type PublishedKey,
  type ReceiptChainDocument,
  type SignedReceipt,
} from '@trd/protocol';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../../platform/signing-key.js';
import { RECEIPT_FIELDS } from '../support/receipt-fields.js';
import { fuzz, hostileJson, hostileString } from './fuzz-settings.js';

const ENVELOPE = RECEIPT_FIELDS;
/** The multibase prefixes CID.parse reads without being given a decoder. */
const CID_BASES = { b: base32, z: base58btc, k: base36 } as const;
const SESSION = 'fuzz-session';

let key: SigningKey;
let keys: PublishedKey[];
let single: SignedReceipt;
let chain: ReceiptChainDocument;

beforeAll(async () => {
  key = await signingKeyFromPem(generateSigningKeyPem());
  keys = [{ kid: key.kid, public_key_pem: key.publicKeyPem, valid_from: '2026-01-01T00:00:00.000Z', valid_until: null }];
  single = await signReceipt({ ...ENVELOPE, job_id: `job_${'1'.repeat(32)}`, issued_at: '2026-03-01T00:00:02.000Z' }, key.secretKey);
  const receipts: ReceiptChainDocument['receipts'] = [];
  let prev: string | null = null;
  for (let seq = 0; seq < 3; seq++) {
    const receipt = await signReceipt(
      { ...ENVELOPE, job_id: `job_${String(seq).padStart(32, '0')}`, issued_at: `2026-03-01T00:0${seq}:02.000Z`, session_id: SESSION, seq, prev },
      key.secretKey,
    );
    const cid = await cidOfBytes(receiptDocumentBytes(receipt));
    receipts.push({ cid, receipt });
    prev = cid;
  }
  chain = { session_id: SESSION, head: prev, count: 3, receipts, keys };
});

const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The bytes that matter of a receipt, or null when they cannot be rebuilt. */
function canonicalOrNull(x: unknown): string | null {
  try {
    return canonicalize(x);
  } catch {
    return null;
  }
}

/** Sets `value` at `path` inside `doc` (creating objects on the way), or deletes it when `value` is undefined. */
function setAt(doc: any, path: (string | number)[], value: unknown): void {
  let at = doc;
  for (const p of path.slice(0, -1)) {
    if (typeof at[p] !== 'object' || at[p] === null) at[p] = {};
    at = at[p];
  }
  const last = path.at(-1)!;
  if (value === undefined) delete at[last];
  else Object.defineProperty(at, last, { value, enumerable: true, writable: true, configurable: true });
}

const envelopeField = fc.constantFrom(...Object.keys(ENVELOPE), 'v', 'kid', 'job_id', 'issued_at', 'session_id', 'seq', 'prev', 'extra', '__proto__', 'constructor');

/** One change to a signed receipt: a field replaced, removed or added, a character changed, or a signature byte flipped. */
const receiptMutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.tuple(fc.constant('envelope'), envelopeField), value: fc.option(hostileJson, { nil: undefined }) }),
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(['signature'], ['extra'], ['__proto__'], ['envelope']), value: fc.option(hostileJson, { nil: undefined }) }),
  fc.record({ kind: fc.constant('char' as const), field: fc.constantFrom('worker_id', 'model', 'model_sha256', 'output_sha256', 'started_at', 'issued_at', 'kid', 'job_id'), at: fc.nat(), char: fc.char() }),
  fc.record({ kind: fc.constant('count' as const), field: fc.constantFrom('prompt_tokens', 'completion_tokens', 'duration_ms'), delta: fc.integer({ min: -3, max: 1000 }).filter((d) => d !== 0) }),
  fc.record({ kind: fc.constant('sigbit' as const), byte: fc.nat({ max: 63 }), bit: fc.nat({ max: 7 }) }),
);

function mutate(doc: any, m: fc.Arbitrary<unknown> extends never ? never : any): any {
  const out = copy(doc);
  const env = out.envelope ?? out.receipt?.envelope;
  const holder = out.envelope ? out : out.receipt;
  switch (m.kind) {
    case 'set':
      setAt(holder, m.path, m.value);
      break;
    case 'char': {
      const s: string = env[m.field];
      const i = m.at % s.length;
      env[m.field] = s.slice(0, i) + m.char + s.slice(i + 1);
      break;
    }
    case 'count':
      env[m.field] += m.delta;
      break;
    case 'sigbit': {
      const sig = Buffer.from(holder.signature, 'base64');
      sig[m.byte] ^= 1 << m.bit;
      holder.signature = sig.toString('base64');
      break;
    }
  }
  return out;
}

/** A reason an auditor can read: a non-empty string, not an exception's `[object Object]`. */
const clearReason = (r: unknown) => typeof r === 'string' && r.length > 0 && !r.includes('[object');

describe('one receipt', () => {
  test('arbitrary JSON gets a reason, never an exception', async () => {
    await fuzz(
      fc.asyncProperty(hostileJson, async (doc) => {
        const parsed = parseReceipt(doc);
        expect(parsed.ok).toBe(false);
        expect(clearReason((parsed as { reason: string }).reason)).toBe(true);
        const checked = await verifyReceipt(doc, key.publicKey);
        expect(checked.ok).toBe(false);
      }),
    );
  });

  test('a changed signed receipt never verifies, and says why', async () => {
    expect(await verifyReceipt(single, key.publicKey)).toEqual({ ok: true, kid: key.kid });
    await fuzz(
      fc.asyncProperty(receiptMutation, async (m) => {
        const mutated = mutate(single, m);
        // A change JSON cannot carry (undefined, or the same value again) is not a change.
        fc.pre(!sameJson(mutated, single) && canonicalOrNull(mutated) !== canonicalize(single));
        const checked = await verifyReceipt(mutated, key.publicKey);
        expect(checked.ok).toBe(false);
        expect(clearReason((checked as { reason: string }).reason)).toBe(true);
      }),
    );
  });
});

describe('receipt chains', () => {
  test('arbitrary JSON and arbitrary key lists get problems, never an exception', async () => {
    await fuzz(
      fc.asyncProperty(hostileJson, hostileJson, async (doc, keyList) => {
        const ring = keyring(keyList);
        const report = await verifyChain(doc, ring);
        expect(report.ok).toBe(false);
        expect(report.problems.length + report.lines.filter((l) => !l.ok).length).toBeGreaterThan(0);
        for (const p of report.problems) expect(clearReason(p)).toBe(true);
        for (const l of report.lines) expect(clearReason(l.detail)).toBe(true);
      }),
    );
  });

  test('arbitrary entries and chain documents with hostile parts never throw', async () => {
    await fuzz(
      fc.asyncProperty(fc.array(hostileJson, { maxLength: 5 }), hostileString, hostileJson, async (entries, sessionId, head) => {
        const checks = await checkEntries(entries, sessionId, keyring(keys));
        expect(checks).toHaveLength(entries.length);
        const report = await verifyChain({ session_id: sessionId, head, count: entries.length, receipts: entries }, keyring(keys));
        // An empty chain of a well-named session, with no head, is a valid (empty) chain.
        if (entries.length > 0 || head !== null) expect(report.ok).toBe(false);
      }),
    );
  });

  test('a changed chain never verifies, and the report says which receipt or what', async () => {
    expect((await verifyChain(chain, keyring(keys))).ok).toBe(true);
    const chainMutation = fc.oneof(
      fc.record({ where: fc.constant('receipt' as const), index: fc.nat({ max: 2 }), m: receiptMutation }),
      fc.record({ where: fc.constant('cid' as const), index: fc.nat({ max: 2 }), value: fc.option(hostileJson, { nil: undefined }) }),
      fc.record({ where: fc.constant('top' as const), field: fc.constantFrom('session_id', 'head', 'count', 'receipts'), value: fc.option(hostileJson, { nil: undefined }) }),
      fc.record({ where: fc.constant('order' as const), a: fc.nat({ max: 2 }), b: fc.nat({ max: 2 }) }),
      fc.record({ where: fc.constant('drop' as const), index: fc.nat({ max: 2 }) }),
    );
    await fuzz(
      fc.asyncProperty(chainMutation, async (c) => {
        const doc: any = copy(chain);
        if (c.where === 'receipt') doc.receipts[c.index] = mutate(doc.receipts[c.index], c.m);
        else if (c.where === 'cid') setAt(doc.receipts[c.index], ['cid'], c.value);
        else if (c.where === 'top') setAt(doc, [c.field], c.value);
        else if (c.where === 'order') [doc.receipts[c.a], doc.receipts[c.b]] = [doc.receipts[c.b], doc.receipts[c.a]];
        else doc.receipts.splice(c.index, 1);
        const { keys: _k, ...signedPart } = doc;
        const { keys: _k2, ...original } = chain;
        fc.pre(!sameJson(signedPart, original) && canonicalOrNull(signedPart) !== canonicalize(original));
        // The count is optional (a summary, not signed): a document without it is still the whole chain.
        fc.pre(!(c.where === 'top' && c.field === 'count' && c.value === undefined));
        const report = await verifyChain(doc, keyring(keys));
        expect(report.ok).toBe(false);
        for (const p of report.problems) expect(clearReason(p)).toBe(true);
        for (const l of report.lines) expect(clearReason(l.detail)).toBe(true);
      }),
    );
  });
});

describe('CIDs and keys as text', () => {
  test('parseCid throws an Error that says "not a CID", or returns the CID the text spells', async () => {
    // Real CIDs in each base CID.parse reads (v0 base58btc; v1 base32, base58btc, base36), whole or with one character changed.
    const realCid = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom<'v0' | keyof typeof CID_BASES>('v0', 'b', 'z', 'k')).map(([bytes, kind]) => {
      const digest = Digest.create(0x12, bytes);
      return kind === 'v0' ? CID.createV0(digest).toString() : CID.create(1, 0x55, digest).toString(CID_BASES[kind]);
    });
    const mutated = fc.tuple(realCid, fc.nat(), fc.constantFrom(...'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ1234567')).map(
      ([text, at, ch]) => text.slice(0, at % text.length) + ch + text.slice((at % text.length) + 1),
    );
    let parsed = 0;
    await fuzz(
      fc.property(fc.oneof(hostileString, fc.stringMatching(/^b[a-z2-7]{0,70}$/), fc.stringMatching(/^Qm[1-9A-HJ-NP-Za-km-z]{0,50}$/), realCid, mutated), (text) => {
        let cid: CID;
        try {
          cid = parseCid(text);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/^not a CID: ./);
          return;
        }
        parsed++;
        // What parsed is what the text says: written back in the text's own base, it is the text.
        expect(cid.version === 0 ? cid.toString() : cid.toString(CID_BASES[text[0] as keyof typeof CID_BASES])).toBe(text);
      }),
    );
    expect(parsed).toBeGreaterThan(0);
  });

  test('publicKeyFromPem refuses anything but an Ed25519 PEM with an Error', async () => {
    const pemOf = (body: string) => `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
    await fuzz(
      fc.property(fc.oneof(hostileString, hostileString.map(pemOf), fc.base64String().map(pemOf)), (text) => {
        expect(() => publicKeyFromPem(text)).toThrow(/PEM|Ed25519|base64/);
        try {
          publicKeyFromPem(text);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).constructor).toBe(Error);
        }
      }),
    );
  });
});
