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
import * as Digest from 'multiformats/hashes/digest';
import { canonicalBytes } from './canonical-json.js';

const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;

/** The string form of every receipt CID: base32 CIDv1, raw codec, sha2-256. */
export const RECEIPT_CID_PATTERN = /^bafkrei[a-z2-7]{52}$/;

export function receiptDocumentBytes(doc: { envelope: unknown; signature: string }): Uint8Array {
  return canonicalBytes({ envelope: doc.envelope, signature: doc.signature });
}

export async function cidOfBytes(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, digest)).toString();
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
