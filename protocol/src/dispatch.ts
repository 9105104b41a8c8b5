/**
 * The signed dispatch envelope: each task a runner receives carries the
 * platform's signature over what the job is (job id, model, prompt hash,
 * attempt, expiry). A runner works only on tasks whose envelope verifies
 * with a platform key and matches the task, so whoever gets into a queue
 * cannot make runners work for them, and an old task cannot be replayed
 * past its expiry. The bytes signed are prefixed with a domain tag, so a
 * dispatch signature can never be taken for a receipt signature (same key).
 */
import * as ed from '@noble/ed25519';
import { canonicalize } from './canonical-json.js';
import { ISO_UTC_MS, SHA256_HEX, base64ToBytes, bytesToBase64, sha256Hex } from './encoding.js';
import { keyIdFor } from './keys.js';
import { ed25519Verify } from './receipt.js';

const DOMAIN = 'trd-dispatch-v1\n';

export interface DispatchClaims {
  v: 1;
  kid: string;
  job_id: string;
  model: string;
  /** SHA-256 hex of the task's prompt string (UTF-8), as the runner receives it. */
  prompt_sha256: string;
  /** The workflow's dispatch of this job: 1 for the first route, then one more per re-dispatch. */
  attempt: number;
  issued_at: string;
  expires_at: string;
}

export interface SignedDispatch {
  claims: DispatchClaims;
  signature: string;
}

/** A platform key a runner trusts: its id, raw public key, and when it stopped signing (null: in use). */
export interface TrustedKey {
  kid: string;
  publicKey: Uint8Array;
  retiredAt: string | null;
}

export function dispatchSigningBytes(claims: DispatchClaims): Uint8Array {
  return new TextEncoder().encode(DOMAIN + canonicalize(claims));
}

export async function signDispatch(fields: Omit<DispatchClaims, 'v' | 'kid'>, secretKey: Uint8Array): Promise<SignedDispatch> {
  const claims: DispatchClaims = { v: 1, kid: await keyIdFor(await ed.getPublicKeyAsync(secretKey)), ...fields };
  const signature = await ed.signAsync(dispatchSigningBytes(claims), secretKey);
  return { claims, signature: bytesToBase64(signature) };
}

export interface DispatchSubject {
  jobId: string;
  model: string;
  prompt: string;
}

/**
 * Why the runner must refuse this task, or null when the envelope is the
 * platform's and matches it. `keys` are the platform's published keys.
 */
export async function dispatchProblem(
  envelope: unknown,
  task: DispatchSubject,
  keys: ReadonlyMap<string, TrustedKey>,
  now: Date,
  clockSkewMs = 0,
): Promise<string | null> {
  if (typeof envelope !== 'object' || envelope === null) return 'task carries no signed dispatch envelope';
  const { claims, signature } = envelope as Partial<SignedDispatch>;
  if (typeof claims !== 'object' || claims === null || typeof signature !== 'string') return 'dispatch envelope needs "claims" and "signature"';
  if (claims.v !== 1) return `dispatch envelope version ${JSON.stringify(claims.v)} is not 1`;
  for (const field of ['kid', 'job_id', 'model', 'prompt_sha256', 'issued_at', 'expires_at'] as const) {
    if (typeof claims[field] !== 'string') return `dispatch envelope claim "${field}" is missing`;
  }
  if (!Number.isSafeInteger(claims.attempt) || claims.attempt < 1) return 'dispatch envelope attempt is not a positive integer';
  if (!SHA256_HEX.test(claims.prompt_sha256) || !ISO_UTC_MS.test(claims.issued_at) || !ISO_UTC_MS.test(claims.expires_at)) {
    return 'dispatch envelope claims are malformed';
  }
  const key = keys.get(claims.kid);
  if (!key) return `dispatch envelope is signed by key ${claims.kid}, not a platform key`;
  let sig: Uint8Array;
  try {
    sig = base64ToBytes(signature);
  } catch {
    return 'dispatch envelope signature is not base64';
  }
  if (sig.length !== 64 || !(await ed25519Verify(sig, dispatchSigningBytes(claims as DispatchClaims), key.publicKey))) {
    return 'dispatch envelope signature does not verify';
  }
  if (key.retiredAt && claims.issued_at >= key.retiredAt) return `dispatch envelope was issued after key ${claims.kid} was retired`;
  if (Date.parse(claims.expires_at) + clockSkewMs <= now.getTime()) return `dispatch envelope expired at ${claims.expires_at}`;
  if (claims.job_id !== task.jobId) return `dispatch envelope is for job ${claims.job_id}, the task is job ${task.jobId}`;
  if (claims.model !== task.model) return `dispatch envelope is for model ${claims.model}, the task asks for ${task.model}`;
  if (claims.prompt_sha256 !== (await sha256Hex(task.prompt))) return 'dispatch envelope prompt hash does not match the task prompt';
  return null;
}
