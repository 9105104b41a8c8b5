/**
 * Content addresses of signed receipt documents.
 *
 * A receipt document's bytes are the RFC 8785 canonical JSON of
 * `{ envelope, signature }`; its CID is CIDv1, codec `raw` (0x55), multihash
 * sha2-256, written in base32 (`bafkrei…`). Raw, not dag-json or UnixFS: the
 * CID then names exactly these bytes, so anyone recomputes it with SHA-256
 * alone, and an IPFS gateway asked for the raw block (`?format=raw`) returns
 * the very bytes that were signed. Same code in Node and in the browser.
 */
import { CID } from 'multiformats/cid';
import { canonicalBytes } from './canonical-json.js';

const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;

/** The string form of every receipt CID: base32 CIDv1, raw codec, sha2-256. */
export const RECEIPT_CID_PATTERN = /^bafkrei[a-z2-7]{52}$/;

export function receiptDocumentBytes(doc: { envelope: unknown; signature: string }): Uint8Array {
  return canonicalBytes({ envelope: doc.envelope, signature: doc.signature });
}

/**
 * The same document text from an envelope already canonicalized: RFC 8785
 * sorts "envelope" before "signature" and writes a string as JSON.stringify
 * does, so the canonical document is this concatenation (a test holds it to
 * receiptDocumentBytes). The verifier saves one canonicalization per receipt.
 */
export function documentText(canonicalEnvelope: string, signature: string): string {
  return `{"envelope":${canonicalEnvelope},"signature":${JSON.stringify(signature)}}`;
}

/** CIDv1 prefix: version 1, codec raw, multihash sha2-256 of 32 bytes. */
const CID_PREFIX = [0x01, RAW_CODEC, SHA2_256, 0x20];
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export async function cidOfBytes(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return cidOfSha256(digest);
}

/**
 * The CID's string from the digest: multibase "b" (RFC 4648 base32, lower
 * case, no padding) of the prefix and digest. Written out rather than built
 * with multiformats (the same string; a test holds them equal) because the
 * browser verifier does it 10,000 times per long chain, 10x faster this way.
 */
export function cidOfSha256(digest: Uint8Array): string {
  const bytes = [...CID_PREFIX, ...digest];
  let out = 'b';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** Parses a CID as a path or query carries it; throws with the reason when it is not one. */
export function parseCid(text: string): CID {
  try {
    return CID.parse(text);
  } catch (err) {
    throw new Error(`not a CID: ${(err as Error).message}`);
  }
}

/** Whether a CID is of the kind receipts have (raw codec, sha2-256), whatever its version or base. */
export function isRawSha256Cid(cid: CID): boolean {
  return cid.version === 1 && cid.code === RAW_CODEC && cid.multihash.code === SHA2_256;
}
