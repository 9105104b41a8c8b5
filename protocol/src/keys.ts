/**
 * Ed25519 public keys as PEM (SubjectPublicKeyInfo), parsed without Node's
 * crypto so the browser verifier uses the very same code.
 */
import { fromHex, sha256Hex, toHex } from './encoding.js';

const SPKI_ED25519_PREFIX = fromHex('302a300506032b6570032100');
const PEM_PUBLIC = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/;

export function publicKeyFromPem(pem: string): Uint8Array {
  const match = PEM_PUBLIC.exec(pem);
  if (!match) throw new Error('not a PEM public key (expected "-----BEGIN PUBLIC KEY-----")');
  const body = match[1].replace(/\s+/g, '');
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  } catch {
    // atob throws a DOMException ("Invalid character"), which tells an auditor nothing.
    throw new Error('PEM public key is not valid base64');
  }
  if (der.length !== 44 || toHex(der.subarray(0, 12)) !== toHex(SPKI_ED25519_PREFIX)) {
    throw new Error('PEM public key is not an Ed25519 key');
  }
  return der.slice(12);
}

export function publicKeyToPem(raw: Uint8Array): string {
  if (raw.length !== 32) throw new Error('an Ed25519 public key has 32 bytes');
  const der = new Uint8Array(44);
  der.set(SPKI_ED25519_PREFIX, 0);
  der.set(raw, 12);
  const b64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/** Key ids are derived from the key itself, so a receipt's `kid` cannot name a key it was not signed with. */
export async function keyIdFor(publicKey: Uint8Array): Promise<string> {
  return `ed25519-${(await sha256Hex(publicKey)).slice(0, 16)}`;
}
