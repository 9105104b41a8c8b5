/**
 * Session receipt chains, and their verification: the one module the server's
 * tests and the browser verifier (verify-web) both run.
 *
 * A chain document is what `GET /v1/sessions/:id/receipts` returns and what an
 * auditor downloads: the session, its claimed head (the CID of its last
 * receipt), the receipts in order, each beside the CID it was published
 * under, and the public keys that signed them with their validity periods.
 * Nothing in it is trusted: every receipt's CID is recomputed from its bytes,
 * every signature checked against its key, and every link and sequence number
 * against the receipt before it.
 */
import { canonicalizeInOrder } from './canonical-json.js';
import { cidOfBytes, documentText } from './cid.js';
import { publicKeyFromPem } from './keys.js';
import { CHAINED_RECEIPT_VERSION, SESSION_ID_PATTERN, ed25519Verify, parseReceipt, receiptSigningBytes, type ParsedReceipt, type SignedReceipt } from './receipt.js';

export interface PublishedKey {
  kid: string;
  public_key_pem: string;
  /** ISO times: receipts issued in [valid_from, valid_until) are this key's; null means still in use. */
  valid_from: string;
  valid_until: string | null;
}

export interface ChainEntry {
  cid: string;
  receipt: SignedReceipt;
}

export interface ReceiptChainDocument {
  session_id: string;
  head: string | null;
  count: number;
  receipts: ChainEntry[];
  keys: PublishedKey[];
}

export interface ChainLine {
  /** Position in the document; null for a line about receipts that are not there. */
  index: number | null;
  seq: number | null;
  cid: string | null;
  job_id: string | null;
  ok: boolean;
  /** What was checked, or why it failed: bad signature, unknown key, broken link, CID mismatch, missing receipt… */
  detail: string;
}

export interface ChainReport {
  ok: boolean;
  session_id: string | null;
  head: string | null;
  lines: ChainLine[];
  /** Problems of the chain as a whole (its head, its count), beside the per-receipt lines. */
  problems: string[];
}

export interface KeyInfo {
  publicKey: Uint8Array;
  validFrom: number;
  validUntil: number;
}

/**
 * Keys by kid, from a published list. The list may come from a file an
 * auditor dropped in, so anything in it may be malformed: an entry that is not
 * a key with a PEM that parses and ISO validity times is left out (its
 * receipts then show "unknown key"), rather than trusted for all time.
 */
export function keyring(keys: unknown): Map<string, KeyInfo> {
  const ring = new Map<string, KeyInfo>();
  if (!Array.isArray(keys)) return ring;
  for (const k of keys as unknown[]) {
    if (typeof k !== 'object' || k === null) continue;
    const { kid, public_key_pem: pem, valid_from: from, valid_until: until } = k as Record<string, unknown>;
    if (typeof kid !== 'string' || typeof pem !== 'string' || typeof from !== 'string' || (until !== null && typeof until !== 'string')) continue;
    const validFrom = Date.parse(from);
    const validUntil = until === null ? Infinity : Date.parse(until);
    if (Number.isNaN(validFrom) || Number.isNaN(validUntil)) continue;
    try {
      ring.set(kid, { publicKey: publicKeyFromPem(pem), validFrom, validUntil });
    } catch {
      // Reported per receipt.
    }
  }
  return ring;
}

/** A parsed receipt against a keyring: the key must be known, in use when the receipt was issued, and match the signature. */
export async function signatureProblems(
  parsed: Extract<ParsedReceipt, { ok: true }>,
  keys: Map<string, KeyInfo>,
  signingBytes: Uint8Array = receiptSigningBytes(parsed.envelope),
): Promise<string[]> {
  const env = parsed.envelope;
  const key = keys.get(env.kid);
  if (!key) return [`unknown key ${env.kid}`];
  const problems: string[] = [];
  const issued = Date.parse(env.issued_at);
  if (issued < key.validFrom || issued >= key.validUntil) problems.push(`key ${env.kid} was not in use at ${env.issued_at}`);
  if (!(await ed25519Verify(parsed.signature, signingBytes, key.publicKey))) problems.push('bad signature');
  return problems;
}

/** What one receipt's own checks found: plain data, so a Web Worker can compute it and post it back. */
export interface EntryCheck {
  problems: string[];
  seq: number | null;
  prev: string | null | undefined;
  jobId: string | null;
  cid: string | null;
}

/** `{"envelope":`, the document text's ASCII opening before the envelope's bytes. */
const DOCUMENT_PREFIX_BYTES = documentText('', '').indexOf(':') + 1;

/** One receipt on its own: shape, CID against bytes, key and its validity, signature. */
async function checkEntry(entry: unknown, sessionId: string, keys: Map<string, KeyInfo>): Promise<EntryCheck> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { problems: ['not a chain entry ({ cid, receipt })'], seq: null, prev: undefined, jobId: null, cid: null };
  }
  const { cid, receipt } = entry as Record<string, unknown>;
  const claimedCid = typeof cid === 'string' ? cid : null;
  const parsed = parseReceipt(receipt);
  if (!parsed.ok) return { problems: [`malformed receipt: ${parsed.reason}`], seq: null, prev: undefined, jobId: null, cid: claimedCid };
  const env = parsed.envelope;
  const out: EntryCheck = { problems: [], seq: env.seq ?? null, prev: env.prev, jobId: env.job_id, cid: claimedCid };
  if (env.v !== CHAINED_RECEIPT_VERSION) out.problems.push('not a chained receipt (version 1 has no place in a session)');
  else if (env.session_id !== sessionId) out.problems.push(`belongs to session ${env.session_id}, not ${sessionId}`);

  // The document's canonical bytes hold the envelope's (signed) bytes: built once, as served when the
  // envelope was served canonically (canonicalizeInOrder), and encoded once for both the CID and the signature.
  let envelopeText: string;
  try {
    envelopeText = canonicalizeInOrder(env as unknown as Record<string, unknown>);
  } catch (err) {
    out.problems.push(`its bytes cannot be rebuilt: ${(err as Error).message}`);
    return out;
  }
  const text = documentText(envelopeText, (receipt as SignedReceipt).signature);
  const bytes = new TextEncoder().encode(text);
  // documentText is `{"envelope":` + envelope + `,"signature":"<base64>"}`: ASCII around the envelope.
  const signed = bytes.subarray(DOCUMENT_PREFIX_BYTES, bytes.length - (text.length - DOCUMENT_PREFIX_BYTES - envelopeText.length));
  const actualCid = await cidOfBytes(bytes);
  if (claimedCid === null) out.problems.push(`no CID given (its bytes hash to ${actualCid})`);
  else if (claimedCid !== actualCid) out.problems.push(`CID mismatch: listed as ${claimedCid}, its bytes hash to ${actualCid}`);

  out.problems.push(...(await signatureProblems(parsed, keys, signed)));
  return out;
}

/** Each receipt's own checks (everything but the links between them), in order. */
export function checkEntries(entries: readonly unknown[], sessionId: string, keys: Map<string, KeyInfo>): Promise<EntryCheck[]> {
  return Promise.all(entries.map((e) => checkEntry(e, sessionId, keys)));
}

/** Runs checkEntries elsewhere (the browser's Web Workers), with the published keys. */
export type EntryChecker = (entries: readonly unknown[], sessionId: string) => Promise<EntryCheck[]>;

/**
 * Verifies a chain document (as parsed from JSON) against the given keys.
 * Never throws on bad input: every problem becomes a red line with its reason.
 * A tampered receipt is flagged on its own line; the links of its neighbours
 * are checked against the CIDs they signed, so they stay green.
 */
export async function verifyChain(doc: unknown, keys: Map<string, KeyInfo>, checker?: EntryChecker): Promise<ChainReport> {
  const report: ChainReport = { ok: false, session_id: null, head: null, lines: [], problems: [] };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    report.problems.push('not a receipt chain (expected a JSON object with session_id, head and receipts)');
    return report;
  }
  const d = doc as Record<string, unknown>;
  if (typeof d.session_id !== 'string') report.problems.push('"session_id" is missing');
  else if (!SESSION_ID_PATTERN.test(d.session_id)) report.problems.push('"session_id" is not a session id (letters, digits, ".", "_", "-"; up to 128)');
  if (!Array.isArray(d.receipts)) report.problems.push('"receipts" must be an array');
  if (d.head !== null && typeof d.head !== 'string') report.problems.push('"head" must be the CID of the last receipt, or null');
  if (d.count !== undefined && (!Number.isSafeInteger(d.count) || (d.count as number) < 0)) report.problems.push('"count" must be a whole number of receipts');
  if (report.problems.length) return report;
  const sessionId = d.session_id as string;
  const entries = d.receipts as unknown[];
  report.session_id = sessionId;
  report.head = typeof d.head === 'string' ? d.head : null;

  const checks = checker ? await checker(entries, sessionId) : await checkEntries(entries, sessionId, keys);
  let before: EntryCheck | null = null;
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i];
    const problems = [...c.problems];
    if (c.seq !== null) {
      const expected = before?.seq != null ? before.seq + 1 : 0;
      if (c.seq > expected && (before === null || before.seq !== null)) {
        const missing = c.seq - expected;
        report.lines.push({
          index: null,
          seq: expected,
          cid: null,
          job_id: null,
          ok: false,
          detail: missing === 1 ? `missing receipt: seq ${expected}` : `missing receipts: seq ${expected} to ${c.seq - 1}`,
        });
      } else if (c.seq !== expected) {
        problems.push(`out of order: seq ${c.seq} where seq ${expected} belongs`);
      } else if (before && c.prev !== before.cid) {
        problems.push(`broken link: prev is ${c.prev}, the receipt before it is ${before.cid}`);
      }
    }
    report.lines.push({
      index: i,
      seq: c.seq,
      cid: c.cid,
      job_id: c.jobId,
      ok: problems.length === 0,
      detail: problems.length ? problems.join('; ') : 'signature, CID and link verified',
    });
    before = c;
  }

  const last = checks.at(-1);
  const lastCid = last?.cid ?? null;
  if (report.head !== lastCid) report.problems.push(`the chain ends at ${lastCid ?? 'no receipt'}, not at the claimed head ${report.head ?? 'none'}`);
  if (typeof d.count === 'number' && d.count !== entries.length) report.problems.push(`the chain claims ${d.count} receipts and has ${entries.length}`);
  report.ok = report.problems.length === 0 && report.lines.every((l) => l.ok);
  return report;
}
