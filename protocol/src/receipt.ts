/**
 * The receipt: what a job ran, signed by the platform. Signed bytes are the
 * RFC 8785 canonical JSON of the envelope; the document that travels is
 * `{ envelope, signature }` with the signature in standard base64, so
 * `openssl pkeyutl -verify -rawin` can check it from the shell.
 *
 * Version 1 is a job's receipt on its own. Version 2 adds the job's place in
 * its session's chain (protocol/chain.ts): `session_id`, `seq` (from 0) and
 * `prev`, the CID of the session's previous receipt (null for seq 0).
 *
 * Either version may say who served the job (`served_by`, the cascade):
 * absent or `network`, a runner named by `worker_id` ran the pinned model
 * (`model_sha256`); `provider:<name>` or `pod:<name>`, an upstream tier the
 * platform forwarded the job to, which has no worker id and no pinned hash
 * to vouch for, so the receipt names the upstream's own model
 * (`upstream_model`) instead. Receipts from before the field verify as ever.
 * A job a peer pod served carries the CID of the peer's own signed receipt
 * (`peer_receipt_cid`), checked with the peer's key before this one is signed.
 *
 * A job that ran a published agent (protocol/agent.ts) names it in either
 * version: `agent` (its slug) and `agent_manifest_sha256`, both or neither, so
 * receipts of other jobs are byte for byte what they were.
 *
 * A job whose customer asked for a proof of work (protocol/proof.ts) names
 * the sealed blob of its prompt and output: `proof_cid` (a raw CID) and
 * `proof_v`, the blob's sealing version (1), both or neither; receipts
 * without them are what they were.
 */
import * as ed from '@noble/ed25519';
import { canonicalBytes } from './canonical-json.js';
import { AGENT_SLUG_PATTERN } from './ids.js';
import { RECEIPT_CID_PATTERN } from './cid.js';
import { ISO_UTC_MS, SHA256_HEX, base64ToBytes, bytesToBase64, fromHex, toHex } from './encoding.js';
import { keyIdFor } from './keys.js';

export const RECEIPT_VERSION = 1 as const;
export const CHAINED_RECEIPT_VERSION = 2 as const;

/** What a customer may name a session: safe in URLs, workflow ids and file names. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ChainLink {
  session_id: string;
  seq: number;
  prev: string | null;
}

/** `network`, `provider:<name>` or `pod:<name>`. */
export const SERVED_BY_PATTERN = /^(network|(provider|pod):[a-z0-9][a-z0-9._-]{0,63})$/;

/** A receipt served upstream (by a provider or a peer pod) rather than by one of the network's runners. */
export function servedUpstream(envelope: { served_by?: string }): boolean {
  return envelope.served_by !== undefined && envelope.served_by !== 'network';
}

export interface AgentLink {
  agent: string;
  agent_manifest_sha256: string;
}

export interface ProofLink {
  /** The sealed blob of the job's prompt and output (protocol/proof.ts), pinned by this CID. */
  proof_cid: string;
  /** How the blob is sealed (PROOF_VERSION); a verifier that does not know it says so. */
  proof_v: number;
}

export interface ReceiptEnvelope extends Partial<ChainLink>, Partial<AgentLink>, Partial<ProofLink> {
  v: typeof RECEIPT_VERSION | typeof CHAINED_RECEIPT_VERSION;
  kid: string;
  job_id: string;
  /** The runner; absent when an upstream tier served the job. */
  worker_id?: string;
  model: string;
  /** The pinned model file the runner served; absent when an upstream tier served the job. */
  model_sha256?: string;
  /** Who served the job (SERVED_BY_PATTERN); absent on receipts of runners from before the cascade. */
  served_by?: string;
  /** The upstream's own name for the model it ran; only with an upstream `served_by`. */
  upstream_model?: string;
  /** The serving peer pod's receipt of the job (its CID); with a `pod:` `served_by` only, and always there. */
  peer_receipt_cid?: string;
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

const SHA256_FIELDS = ['prompt_sha256', 'output_sha256'] as const;
const STRING_FIELDS = ['kid', 'job_id', 'model'] as const;
const RUNNER_FIELDS = ['worker_id', 'model_sha256'] as const;
const UPSTREAM_FIELDS = ['served_by', 'upstream_model', 'peer_receipt_cid'] as const;
const COUNT_FIELDS = ['prompt_tokens', 'completion_tokens', 'duration_ms'] as const;
const TIME_FIELDS = ['started_at', 'finished_at', 'issued_at'] as const;
const CHAIN_FIELDS = ['session_id', 'seq', 'prev'] as const;
const AGENT_FIELDS = ['agent', 'agent_manifest_sha256'] as const;
const PROOF_FIELDS = ['proof_cid', 'proof_v'] as const;
const ENVELOPE_FIELDS = new Set<string>(['v', ...SHA256_FIELDS, ...STRING_FIELDS, ...RUNNER_FIELDS, ...UPSTREAM_FIELDS, ...COUNT_FIELDS, ...TIME_FIELDS, ...AGENT_FIELDS, ...PROOF_FIELDS]);
const CHAINED_ENVELOPE_FIELDS = new Set<string>([...ENVELOPE_FIELDS, ...CHAIN_FIELDS]);

/** Returns what is wrong with a parsed envelope, or null when its shape is valid. */
export function envelopeProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'envelope is not an object';
  const e = value as Record<string, unknown>;
  if (e.v !== RECEIPT_VERSION && e.v !== CHAINED_RECEIPT_VERSION) return `unsupported receipt version ${JSON.stringify(e.v)}`;
  const known = e.v === RECEIPT_VERSION ? ENVELOPE_FIELDS : CHAINED_ENVELOPE_FIELDS;
  for (const k of Object.keys(e)) if (!known.has(k)) return `unknown field "${k}"`;
  if (e.v === CHAINED_RECEIPT_VERSION) {
    if (typeof e.session_id !== 'string' || !SESSION_ID_PATTERN.test(e.session_id)) return '"session_id" must be a session id (letters, digits, ".", "_", "-"; up to 128)';
    if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 0) return '"seq" must be a non-negative integer';
    if (e.seq === 0 ? e.prev !== null : typeof e.prev !== 'string' || !RECEIPT_CID_PATTERN.test(e.prev)) {
      return e.seq === 0 ? '"prev" must be null for the first receipt of a session' : '"prev" must be the CID of the previous receipt (bafkrei…)';
    }
  }
  if ((e.agent === undefined) !== (e.agent_manifest_sha256 === undefined)) return '"agent" and "agent_manifest_sha256" come together';
  if (e.agent !== undefined) {
    if (typeof e.agent !== 'string' || !AGENT_SLUG_PATTERN.test(e.agent)) return '"agent" must be an agent slug';
    if (typeof e.agent_manifest_sha256 !== 'string' || !SHA256_HEX.test(e.agent_manifest_sha256)) return '"agent_manifest_sha256" must be 64 lowercase hex digits';
  }
  if ((e.proof_cid === undefined) !== (e.proof_v === undefined)) return '"proof_cid" and "proof_v" come together';
  if (e.proof_cid !== undefined) {
    if (typeof e.proof_cid !== 'string' || !RECEIPT_CID_PATTERN.test(e.proof_cid)) return '"proof_cid" must be a raw CID (bafkrei…)';
    if (!Number.isSafeInteger(e.proof_v) || (e.proof_v as number) < 1) return '"proof_v" must be a positive integer';
  }
  for (const k of STRING_FIELDS) if (typeof e[k] !== 'string' || e[k] === '') return `"${k}" must be a non-empty string`;
  if (e.served_by !== undefined && (typeof e.served_by !== 'string' || !SERVED_BY_PATTERN.test(e.served_by))) {
    return '"served_by" must be network, provider:<name> or pod:<name>';
  }
  if (servedUpstream(e as { served_by?: string })) {
    for (const k of RUNNER_FIELDS) if (k in e) return `"${k}" must be absent: ${e.served_by as string} served the job, not a runner`;
    if (typeof e.upstream_model !== 'string' || e.upstream_model === '' || e.upstream_model.length > 256) return '"upstream_model" must be the upstream\'s model name (1-256 characters)';
    const byPod = (e.served_by as string).startsWith('pod:');
    if (byPod && (typeof e.peer_receipt_cid !== 'string' || !RECEIPT_CID_PATTERN.test(e.peer_receipt_cid))) return '"peer_receipt_cid" must be the CID of the serving pod\'s receipt (bafkrei…)';
    if (!byPod && 'peer_receipt_cid' in e) return '"peer_receipt_cid" is only for a job a peer pod served';
  } else {
    if ('upstream_model' in e) return '"upstream_model" is only for a job served upstream';
    if ('peer_receipt_cid' in e) return '"peer_receipt_cid" is only for a job a peer pod served';
    if (typeof e.worker_id !== 'string' || e.worker_id === '') return '"worker_id" must be a non-empty string';
    if (typeof e.model_sha256 !== 'string' || !SHA256_HEX.test(e.model_sha256)) return '"model_sha256" must be 64 lowercase hex digits';
  }
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

/** A receipt with chain fields is a version 2 receipt; without, version 1. */
export async function signReceipt(
  fields: Omit<ReceiptEnvelope, 'v' | 'kid'>,
  secretKey: Uint8Array,
): Promise<SignedReceipt> {
  const kid = await keyIdFor(await ed.getPublicKeyAsync(secretKey));
  const v = fields.session_id === undefined ? RECEIPT_VERSION : CHAINED_RECEIPT_VERSION;
  const envelope: ReceiptEnvelope = { v, kid, ...fields };
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
  const parsed = parseReceipt(doc);
  if (!parsed.ok) return parsed;
  const expectedKid = await keyIdFor(publicKey);
  if (parsed.envelope.kid !== expectedKid) return { ok: false, reason: `receipt names key ${parsed.envelope.kid}, but the key given is ${expectedKid}` };
  const valid = await ed25519Verify(parsed.signature, receiptSigningBytes(parsed.envelope), publicKey);
  return valid ? { ok: true, kid: parsed.envelope.kid } : { ok: false, reason: 'signature does not match the receipt contents' };
}

export type ParsedReceipt = { ok: true; envelope: ReceiptEnvelope; signature: Uint8Array } | { ok: false; reason: string };

/** The shape checks of a receipt document, before any key is involved. */
export function parseReceipt(doc: unknown): ParsedReceipt {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, reason: 'receipt is not a JSON object' };
  const { envelope, signature, ...rest } = doc as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) return { ok: false, reason: `unknown field "${extra[0]}" beside envelope and signature` };
  const problem = envelopeProblem(envelope);
  if (problem) return { ok: false, reason: problem };
  if (typeof signature !== 'string') return { ok: false, reason: '"signature" must be a base64 string' };
  let sig: Uint8Array;
  try {
    sig = base64ToBytes(signature);
  } catch {
    return { ok: false, reason: '"signature" is not valid base64' };
  }
  if (sig.length !== 64) return { ok: false, reason: `signature has ${sig.length} bytes, an Ed25519 signature has 64` };
  return { ok: true, envelope: envelope as ReceiptEnvelope, signature: sig };
}

// RFC 8032 test vector 1's public key: a valid point any Ed25519 implementation imports.
const PROBE_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
let webCryptoEd25519: Promise<boolean> | null = null;
const importedKeys = new Map<string, Promise<CryptoKey | null>>();

function hasWebCryptoEd25519(): Promise<boolean> {
  webCryptoEd25519 ??= (async () => {
    try {
      await globalThis.crypto.subtle.importKey('raw', fromHex(PROBE_KEY) as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
      return true;
    } catch {
      return false;
    }
  })();
  return webCryptoEd25519;
}

/** Which Ed25519 implementation verifies here: the runtime's WebCrypto, or @noble/ed25519. */
export async function ed25519Engine(): Promise<'webcrypto' | 'noble'> {
  return (await hasWebCryptoEd25519()) ? 'webcrypto' : 'noble';
}

/**
 * Strict RFC 8032 verification: WebCrypto's Ed25519 where the runtime has it
 * (native code; a 10,000-receipt chain needs it in the browser),
 * @noble/ed25519 where it does not.
 */
export async function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
  if (!(await hasWebCryptoEd25519())) return ed.verifyAsync(signature, message, publicKey, { zip215: false });
  const id = toHex(publicKey);
  let key = importedKeys.get(id);
  if (!key) {
    // A key that is not a valid point cannot verify anything.
    key = globalThis.crypto.subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']).catch(() => null);
    importedKeys.set(id, key);
  }
  const cryptoKey = await key;
  if (!cryptoKey) return false;
  return globalThis.crypto.subtle.verify({ name: 'Ed25519' }, cryptoKey, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
}
