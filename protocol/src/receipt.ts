/**
 * The receipt: what a job ran, signed by the platform. Signed bytes are the
 * RFC 8785 canonical JSON of the envelope; the document that travels is
 * `{ envelope, signature }` with the signature in standard base64, so
 * `openssl pkeyutl -verify -rawin` can check it from the shell.
 */
import * as ed from '@noble/ed25519';
import { canonicalBytes } from './canonical-json.js';
import { ISO_UTC_MS, SHA256_HEX } from './encoding.js';
import { keyIdFor } from './keys.js';

export const RECEIPT_VERSION = 1 as const;

export interface ReceiptEnvelope {
  v: typeof RECEIPT_VERSION;
  kid: string;
  job_id: string;
  worker_id: string;
  model: string;
  model_sha256: string;
  prompt_sha256: string;
  output_sha256: string;
  prompt_tokens: number;
  completion_tokens: number;
  /** ISO 8601 UTC, from the runner's clock. */
  started_at: string;
  finished_at: string;
  duration_ms: number;
  issued_at: string;
}

export interface SignedReceipt {
  envelope: ReceiptEnvelope;
  signature: string;
}

export type ReceiptCheck = { ok: true; kid: string } | { ok: false; reason: string };

const SHA256_FIELDS = ['model_sha256', 'prompt_sha256', 'output_sha256'] as const;
const STRING_FIELDS = ['kid', 'job_id', 'worker_id', 'model'] as const;
const COUNT_FIELDS = ['prompt_tokens', 'completion_tokens', 'duration_ms'] as const;
const TIME_FIELDS = ['started_at', 'finished_at', 'issued_at'] as const;
const ENVELOPE_FIELDS = new Set<string>(['v', ...SHA256_FIELDS, ...STRING_FIELDS, ...COUNT_FIELDS, ...TIME_FIELDS]);

/** Returns what is wrong with a parsed envelope, or null when its shape is valid. */
export function envelopeProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'envelope is not an object';
  const e = value as Record<string, unknown>;
  if (e.v !== RECEIPT_VERSION) return `unsupported receipt version ${JSON.stringify(e.v)}`;
  for (const k of Object.keys(e)) if (!ENVELOPE_FIELDS.has(k)) return `unknown field "${k}"`;
  for (const k of STRING_FIELDS) if (typeof e[k] !== 'string' || e[k] === '') return `"${k}" must be a non-empty string`;
  for (const k of SHA256_FIELDS) {
    if (typeof e[k] !== 'string' || !SHA256_HEX.test(e[k] as string)) return `"${k}" must be 64 lowercase hex digits`;
  }
  for (const k of COUNT_FIELDS) {
    if (!Number.isSafeInteger(e[k]) || (e[k] as number) < 0) return `"${k}" must be a non-negative integer`;
  }
  for (const k of TIME_FIELDS) {
    if (typeof e[k] !== 'string' || !ISO_UTC_MS.test(e[k] as string)) return `"${k}" must be an ISO 8601 UTC time with milliseconds`;
  }
  return null;
}

export function receiptSigningBytes(envelope: ReceiptEnvelope): Uint8Array {
  return canonicalBytes(envelope);
}

export async function signReceipt(
  fields: Omit<ReceiptEnvelope, 'v' | 'kid'>,
  secretKey: Uint8Array,
): Promise<SignedReceipt> {
  const kid = await keyIdFor(await ed.getPublicKeyAsync(secretKey));
  const envelope: ReceiptEnvelope = { v: RECEIPT_VERSION, kid, ...fields };
  const problem = envelopeProblem(envelope);
  if (problem) throw new Error(`refusing to sign an invalid receipt: ${problem}`);
  const signature = await ed.signAsync(receiptSigningBytes(envelope), secretKey);
  return { envelope, signature: bytesToBase64(signature) };
}

/**
 * Checks a receipt document as parsed from JSON against the public key its
 * `kid` names. Never throws: an auditor gets a reason, not a stack trace.
 */
export async function verifyReceipt(doc: unknown, publicKey: Uint8Array): Promise<ReceiptCheck> {
  if (typeof doc !== 'object' || doc === null) return { ok: false, reason: 'receipt is not a JSON object' };
  const { envelope, signature, ...rest } = doc as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) return { ok: false, reason: `unknown field "${extra[0]}" beside envelope and signature` };
  const problem = envelopeProblem(envelope);
  if (problem) return { ok: false, reason: problem };
  const env = envelope as ReceiptEnvelope;
  if (typeof signature !== 'string') return { ok: false, reason: '"signature" must be a base64 string' };
  let sig: Uint8Array;
  try {
    sig = base64ToBytes(signature);
  } catch {
    return { ok: false, reason: '"signature" is not valid base64' };
  }
  if (sig.length !== 64) return { ok: false, reason: `signature has ${sig.length} bytes, an Ed25519 signature has 64` };
  const expectedKid = await keyIdFor(publicKey);
  if (env.kid !== expectedKid) return { ok: false, reason: `receipt names key ${env.kid}, but the key given is ${expectedKid}` };
  const valid = await ed.verifyAsync(sig, receiptSigningBytes(env), publicKey, { zip215: false });
  return valid ? { ok: true, kid: env.kid } : { ok: false, reason: 'signature does not match the receipt contents' };
}

function bytesToBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function base64ToBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error('bad base64');
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
