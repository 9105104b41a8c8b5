/**
 * The platform's decisions about a runner, signed and chained: a tier change,
 * a shadowban or its lifting, a job moved off it, a required update, a
 * warm-pool credit, a fleet member's daily earning cap reached. Each is an envelope signed with the receipt key (RFC 8785
 * canonical JSON, Ed25519, base64), numbered per runner from 1, naming the
 * SHA-256 of the one before; so an owner holding the chain can prove what the
 * platform decided and when, and a link dropped or changed later shows. Pure:
 * the browser verifier runs it too.
 */
import * as ed from '@noble/ed25519';
import { canonicalBytes } from './canonical-json.js';
import { ISO_UTC_MS, SHA256_HEX, base64ToBytes, bytesToBase64, sha256Hex } from './encoding.js';
import { keyIdFor } from './keys.js';
import { ed25519Verify } from './receipt.js';

export const DECISION_VERSION = 1 as const;
export const DECISION_KINDS = ['tier_changed', 'shadowbanned', 'shadowban_lifted', 'job_moved', 'update_required', 'warm_pool_credit', 'cap_reached'] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

export interface DecisionEnvelope {
  v: typeof DECISION_VERSION;
  type: 'runner-decision';
  kid: string;
  runner_id: string;
  seq: number;
  /** SHA-256 of the previous decision's envelope bytes; null for the first. */
  prev_sha256: string | null;
  kind: DecisionKind;
  /** What was decided, in its own words: flat strings, integers, booleans. */
  detail: Record<string, string | number | boolean | null>;
  decided_at: string;
}

export interface SignedDecision {
  envelope: DecisionEnvelope;
  signature: string;
}

export async function decisionSha256(envelope: DecisionEnvelope): Promise<string> {
  return sha256Hex(canonicalBytes(envelope));
}

export async function signDecision(fields: Omit<DecisionEnvelope, 'v' | 'type' | 'kid'>, secretKey: Uint8Array): Promise<SignedDecision> {
  const kid = await keyIdFor(await ed.getPublicKeyAsync(secretKey));
  const envelope: DecisionEnvelope = { v: DECISION_VERSION, type: 'runner-decision', kid, ...fields };
  const problem = envelopeProblem(envelope);
  if (problem) throw new Error(`refusing to sign an invalid decision: ${problem}`);
  return { envelope, signature: bytesToBase64(await ed.signAsync(canonicalBytes(envelope), secretKey)) };
}

const FIELDS = ['v', 'type', 'kid', 'runner_id', 'seq', 'prev_sha256', 'kind', 'detail', 'decided_at'];

function envelopeProblem(e: unknown): string | null {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'envelope is not an object';
  const o = e as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) return `unknown field "${k}"`;
  for (const k of FIELDS) if (!(k in o)) return `"${k}" is missing`;
  if (o.v !== DECISION_VERSION || o.type !== 'runner-decision') return 'not a runner decision (v 1)';
  if (typeof o.runner_id !== 'string' || !o.runner_id) return '"runner_id" must be a runner id';
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) return '"seq" must be a whole number from 1';
  if (o.prev_sha256 !== null && (typeof o.prev_sha256 !== 'string' || !SHA256_HEX.test(o.prev_sha256))) return '"prev_sha256" must be null or a SHA-256 in hex';
  if (!DECISION_KINDS.includes(o.kind as DecisionKind)) return `"kind" must be one of ${DECISION_KINDS.join(', ')}`;
  if (typeof o.detail !== 'object' || o.detail === null || Array.isArray(o.detail)) return '"detail" must be an object';
  for (const [k, v] of Object.entries(o.detail)) {
    if (!(v === null || typeof v === 'string' || typeof v === 'boolean' || Number.isSafeInteger(v))) return `"detail.${k}" must be a string, a whole number, a boolean or null`;
  }
  if (typeof o.decided_at !== 'string' || !ISO_UTC_MS.test(o.decided_at)) return '"decided_at" must be an ISO 8601 UTC time with milliseconds';
  return null;
}

export type DecisionChainCheck = { ok: true; decisions: number } | { ok: false; seq: number | null; reason: string };

/**
 * Checks a runner's whole chain as served (oldest first): every envelope well formed and about `runnerId`,
 * signed with a key `keyFor` knows, numbered 1, 2, 3… with each naming the hash of the one before.
 */
export async function verifyDecisionChain(doc: unknown, runnerId: string, keyFor: (kid: string) => Uint8Array | null): Promise<DecisionChainCheck> {
  if (!Array.isArray(doc)) return { ok: false, seq: null, reason: 'decisions must be a list' };
  let prev: string | null = null;
  for (let i = 0; i < doc.length; i++) {
    const d = doc[i] as Partial<SignedDecision> | null;
    const at = i + 1;
    const problem = envelopeProblem(d?.envelope);
    if (problem) return { ok: false, seq: at, reason: problem };
    const e = d!.envelope!;
    if (e.runner_id !== runnerId) return { ok: false, seq: at, reason: `about runner ${e.runner_id}, not ${runnerId}` };
    if (e.seq !== at) return { ok: false, seq: at, reason: `numbered ${e.seq} where ${at} was due: a decision is missing or out of order` };
    if (e.prev_sha256 !== prev) return { ok: false, seq: at, reason: 'does not name the decision before it: the chain was changed' };
    const key = keyFor(e.kid);
    if (!key) return { ok: false, seq: at, reason: `signed with key ${e.kid}, which the platform does not publish` };
    let signature: Uint8Array;
    try {
      signature = base64ToBytes(String(d!.signature));
    } catch {
      return { ok: false, seq: at, reason: 'the signature is not base64' };
    }
    if (!(await ed25519Verify(signature, canonicalBytes(e), key))) return { ok: false, seq: at, reason: 'the signature does not match the decision' };
    prev = await decisionSha256(e);
  }
  return { ok: true, decisions: doc.length };
}
