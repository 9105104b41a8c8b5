/**
 * Proof of work, sealed for the customer: a job's prompt and output, sealed to
 * a public key the customer chose (X25519), content-addressed and pinned, and
 * named by CID in the job's receipt (`proof_cid`, `proof_v`). Anyone can fetch
 * the blob; only the holder of the private key (the customer, or an arbiter
 * they hand it to) can open it and check it against the receipt's hashes.
 *
 * The customer supplies the public key per request, so the private key never
 * exists on the platform: a sealed blob the platform stores is as opaque to it
 * as to anyone. (A per-job key the platform generated and returned once would
 * ask the customer to trust that it was forgotten.)
 *
 * Sealing (version 1): an ephemeral X25519 key agrees a secret with the
 * customer's key; HKDF-SHA-256 (salt: the ephemeral public key, info
 * `trd-proof/1`) derives 48 bytes: an AES-256-GCM key and a 16-byte key
 * check. The key check tells "this is not the key it was sealed to" apart from
 * "the blob was altered" (the GCM tag). The blob is the canonical JSON of
 * `{ v, alg, epk, nonce, key_check, ciphertext }` (base64), the plaintext the
 * canonical JSON of `{ v, job_id, prompt, output }`.
 *
 * WebCrypto only (X25519, HKDF, AES-GCM), so the browser verifier runs this
 * same code.
 */
import { canonicalBytes } from './canonical-json.js';
import { base64ToBytes, bytesToBase64, sha256Hex } from './encoding.js';

export const PROOF_VERSION = 1 as const;
export const PROOF_ALG = 'X25519-HKDF-SHA256-A256GCM';
const INFO = new TextEncoder().encode('trd-proof/1');
const AAD = new TextEncoder().encode(`${PROOF_ALG}/${PROOF_VERSION}`);
/** DER prefixes of an X25519 key in PKCS#8 (private) and SubjectPublicKeyInfo (public) form; the raw 32 bytes follow. */
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
const X25519 = { name: 'X25519' } as const;

/** What the sealed blob holds. */
export interface ProofContents {
  v: typeof PROOF_VERSION;
  job_id: string;
  prompt: string;
  output: string;
}

/** The pinned blob, as JSON. */
export interface SealedProof {
  v: typeof PROOF_VERSION;
  alg: typeof PROOF_ALG;
  epk: string;
  nonce: string;
  key_check: string;
  ciphertext: string;
}

export class ProofKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofKeyError';
  }
}

export type OpenedProof = { ok: true; contents: ProofContents } | { ok: false; reason: string };

const subtle = () => globalThis.crypto.subtle;
const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

function base64Any(text: string): Uint8Array | null {
  const std = text.replace(/-/g, '+').replace(/_/g, '/');
  try {
    return base64ToBytes(std.padEnd(Math.ceil(std.length / 4) * 4, '='));
  } catch {
    return null;
  }
}

/** The DER inside a PEM block of the given label, or null when the text is not one. */
function pemBody(text: string, label: string): Uint8Array | null {
  const m = new RegExp(`^-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----$`).exec(text.trim());
  return m ? base64Any(m[1]!.replace(/\s+/g, '')) : null;
}

function stripPrefix(der: Uint8Array, prefix: Uint8Array): Uint8Array | null {
  if (der.length !== prefix.length + 32) return null;
  for (let i = 0; i < prefix.length; i++) if (der[i] !== prefix[i]) return null;
  return der.slice(prefix.length);
}

/**
 * A customer's X25519 public key: 32 bytes in base64 (standard or URL-safe), or a PEM
 * `PUBLIC KEY` (what `openssl pkey -in key.pem -pubout` prints). Throws ProofKeyError saying what is wrong.
 */
export function parseProofPublicKey(text: string): Uint8Array {
  return parseX25519Key(text, 'public', SPKI_PREFIX, ' (openssl genpkey -algorithm X25519, then openssl pkey -pubout)');
}

/** The private key that opens a proof: 32 bytes in base64, or a PEM `PRIVATE KEY` (openssl genpkey -algorithm X25519). */
export function parseProofPrivateKey(text: string): Uint8Array {
  return parseX25519Key(text, 'private', PKCS8_PREFIX, '');
}

/** 32 raw bytes from base64 (standard or URL-safe) or from a PEM block whose DER starts with `derPrefix`. */
function parseX25519Key(text: string, kind: 'public' | 'private', derPrefix: Uint8Array, pemHint: string): Uint8Array {
  const label = `${kind.toUpperCase()} KEY`;
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) {
    const der = pemBody(t, label);
    const raw = der && stripPrefix(der, derPrefix);
    if (!raw) throw new ProofKeyError(`is a PEM block, but not an X25519 ${label}${pemHint}`);
    return raw;
  }
  const raw = /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? base64Any(t) : null;
  if (!raw || raw.length !== 32) throw new ProofKeyError(`must be an X25519 ${kind} key: 32 bytes in base64, or a PEM ${label}`);
  return raw;
}

async function importPrivate(raw: Uint8Array): Promise<CryptoKey> {
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(raw, PKCS8_PREFIX.length);
  return subtle().importKey('pkcs8', buf(pkcs8), X25519, false, ['deriveBits']);
}

/** The AES key and the key check, from the agreed secret. */
async function derive(shared: ArrayBuffer, epk: Uint8Array): Promise<{ key: CryptoKey; check: Uint8Array }> {
  if (new Uint8Array(shared).every((b) => b === 0)) throw new ProofKeyError('is a low-order point: no secret can be agreed with it');
  const ikm = await subtle().importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const okm = new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: buf(epk), info: buf(INFO) }, ikm, 384));
  const key = await subtle().importKey('raw', buf(okm.slice(0, 32)), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  return { key, check: okm.slice(32) };
}

async function agree(privateKey: CryptoKey, publicRaw: Uint8Array): Promise<ArrayBuffer> {
  let pub: CryptoKey;
  try {
    pub = await subtle().importKey('raw', buf(publicRaw), X25519, false, []);
  } catch {
    throw new ProofKeyError('is not an X25519 public key');
  }
  try {
    return await subtle().deriveBits({ name: 'X25519', public: pub }, privateKey, 256);
  } catch {
    // WebCrypto refuses a low-order point (an all-zero secret) here; some runtimes return the zeros instead (derive checks).
    throw new ProofKeyError('is a low-order point: no secret can be agreed with it');
  }
}

/** Seals the job's prompt and output to the customer's key: the blob's bytes (canonical JSON). */
export async function sealProof(contents: Omit<ProofContents, 'v'>, recipientPublicKey: Uint8Array): Promise<Uint8Array> {
  const eph = (await subtle().generateKey(X25519, true, ['deriveBits'])) as CryptoKeyPair;
  const epk = new Uint8Array(await subtle().exportKey('raw', eph.publicKey));
  const { key, check } = await derive(await agree(eph.privateKey, recipientPublicKey), epk);
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const plain = canonicalBytes({ v: PROOF_VERSION, job_id: contents.job_id, prompt: contents.prompt, output: contents.output });
  const ciphertext = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: buf(AAD) }, key, buf(plain)));
  const blob: SealedProof = { v: PROOF_VERSION, alg: PROOF_ALG, epk: bytesToBase64(epk), nonce: bytesToBase64(nonce), key_check: bytesToBase64(check), ciphertext: bytesToBase64(ciphertext) };
  return canonicalBytes(blob);
}

/** Checks whether a public key can be sealed to (a real X25519 point of full order): the reason it cannot, or null. */
export async function proofPublicKeyProblem(publicKey: Uint8Array): Promise<string | null> {
  try {
    await sealProof({ job_id: 'probe', prompt: '', output: '' }, publicKey);
    return null;
  } catch (err) {
    if (err instanceof ProofKeyError) return err.message;
    throw err;
  }
}

function parseSealed(blob: Uint8Array): SealedProof | string {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(blob));
  } catch {
    return 'the blob is not a JSON document';
  }
  const d = doc as Record<string, unknown>;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'the blob is not a JSON object';
  if (d.v !== PROOF_VERSION) return `unsupported proof version ${JSON.stringify(d.v)}`;
  if (d.alg !== PROOF_ALG) return `unsupported sealing ${JSON.stringify(d.alg)}`;
  for (const k of ['epk', 'nonce', 'key_check', 'ciphertext']) if (typeof d[k] !== 'string') return `"${k}" must be a base64 string`;
  return d as unknown as SealedProof;
}

/** Opens a sealed proof with the customer's private key. Never throws: a wrong key and an altered blob each get their reason. */
export async function openProof(blob: Uint8Array, privateKey: Uint8Array): Promise<OpenedProof> {
  const sealed = parseSealed(blob);
  if (typeof sealed === 'string') return { ok: false, reason: sealed };
  let epk: Uint8Array, nonce: Uint8Array, check: Uint8Array, ciphertext: Uint8Array;
  try {
    [epk, nonce, check, ciphertext] = [sealed.epk, sealed.nonce, sealed.key_check, sealed.ciphertext].map(base64ToBytes) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  } catch {
    return { ok: false, reason: 'the blob has a field that is not base64' };
  }
  if (epk.length !== 32 || nonce.length !== 12 || check.length !== 16) return { ok: false, reason: 'the blob has a key, nonce or key check of the wrong length' };
  let derived;
  try {
    derived = await derive(await agree(await importPrivate(privateKey), epk), epk);
  } catch (err) {
    return { ok: false, reason: err instanceof ProofKeyError ? `the blob's ephemeral key ${err.message}` : 'the private key is not an X25519 key' };
  }
  if (!derived.check.every((b, i) => b === check[i])) return { ok: false, reason: 'wrong key: this blob was not sealed to the key given' };
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(AAD) }, derived.key, buf(ciphertext)));
  } catch {
    return { ok: false, reason: 'the blob was altered: its ciphertext fails the authentication tag' };
  }
  let contents: unknown;
  try {
    contents = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain));
  } catch {
    return { ok: false, reason: 'the sealed contents are not JSON' };
  }
  const c = contents as Record<string, unknown>;
  if (c?.v !== PROOF_VERSION || typeof c.job_id !== 'string' || typeof c.prompt !== 'string' || typeof c.output !== 'string') {
    return { ok: false, reason: 'the sealed contents are not { v, job_id, prompt, output }' };
  }
  return { ok: true, contents: c as unknown as ProofContents };
}

/** What an opened proof contradicts in its receipt (job id, prompt hash, output hash); empty when it matches. */
export async function proofProblems(contents: ProofContents, envelope: { job_id: string; prompt_sha256: string; output_sha256: string }): Promise<string[]> {
  const problems: string[] = [];
  if (contents.job_id !== envelope.job_id) problems.push(`the proof is of job ${contents.job_id}, the receipt of ${envelope.job_id}`);
  const prompt = await sha256Hex(contents.prompt);
  if (prompt !== envelope.prompt_sha256) problems.push(`the sealed prompt hashes to ${prompt}, the receipt says ${envelope.prompt_sha256}`);
  const output = await sha256Hex(contents.output);
  if (output !== envelope.output_sha256) problems.push(`the sealed output hashes to ${output}, the receipt says ${envelope.output_sha256}`);
  return problems;
}
