/**
 * Chain-head attestations between pods (federation, docs/cascade.md): a pod
 * signs the heads of its session chains and the ids of its signing keys; a
 * peer that receives it countersigns what it saw and when. A pod that later
 * rewrites a session's history cannot undo a peer's countersigned head: the
 * chain it publishes then has another CID (or nothing) at an attested seq.
 *
 * This module is the shared, pure part (the browser verifier runs it too):
 * the two signed documents, their checks, a receiver's decision about a
 * sender (known, not revoked, signed with a key it published), and the
 * comparison of a chain with what peers attested. Signed bytes are RFC 8785
 * canonical JSON, signatures Ed25519 in base64, as receipts.
 */
import * as ed from '@noble/ed25519';
import { canonicalBytes } from './canonical-json.js';
import { RECEIPT_CID_PATTERN } from './cid.js';
import { ISO_UTC_MS, SHA256_HEX, base64ToBytes, bytesToBase64, sha256Hex } from './encoding.js';
import { keyIdFor } from './keys.js';
import { SESSION_ID_PATTERN, ed25519Verify } from './receipt.js';

export const ATTESTATION_VERSION = 1 as const;
/** A pod's name, as `pod:<name>` in `served_by` uses it. */
export const POD_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const KID_PATTERN = /^[a-z0-9-]{1,64}$/;

export interface ChainHead {
  session_id: string;
  seq: number;
  cid: string;
}

export interface AttestationEnvelope {
  v: typeof ATTESTATION_VERSION;
  kind: 'chain-heads';
  pod: string;
  kid: string;
  issued_at: string;
  heads: ChainHead[];
  /** The ids of every signing key the pod publishes, so a key added or dropped later is seen by its peers too. */
  keys: string[];
}

export interface CountersignatureEnvelope {
  v: typeof ATTESTATION_VERSION;
  kind: 'countersignature';
  /** The peer that received the attestation and signs this. */
  pod: string;
  kid: string;
  attested_pod: string;
  /** SHA-256 of the attestation document's canonical bytes. */
  attestation_sha256: string;
  received_at: string;
}

export interface Signed<E> {
  envelope: E;
  signature: string;
}

export type SignedAttestation = Signed<AttestationEnvelope>;
export type Countersignature = Signed<CountersignatureEnvelope>;

/** What a pod keeps of one exchange: its attestation and the peer's countersignature of it. */
export interface CountersignedAttestation {
  attestation: SignedAttestation;
  countersignature: Countersignature;
}

export type Check = { ok: true } | { ok: false; reason: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function exactKeys(e: Record<string, unknown>, keys: string[]): string | null {
  for (const k of Object.keys(e)) if (!keys.includes(k)) return `unknown field "${k}"`;
  for (const k of keys) if (!(k in e)) return `"${k}" is missing`;
  return null;
}

export function attestationProblem(value: unknown): string | null {
  if (!isObject(value)) return 'attestation envelope is not an object';
  const extra = exactKeys(value, ['v', 'kind', 'pod', 'kid', 'issued_at', 'heads', 'keys']);
  if (extra) return extra;
  if (value.v !== ATTESTATION_VERSION) return `unsupported attestation version ${JSON.stringify(value.v)}`;
  if (value.kind !== 'chain-heads') return '"kind" must be "chain-heads"';
  if (typeof value.pod !== 'string' || !POD_NAME_PATTERN.test(value.pod)) return '"pod" must be a pod name';
  if (typeof value.kid !== 'string' || !KID_PATTERN.test(value.kid)) return '"kid" must be a key id';
  if (typeof value.issued_at !== 'string' || !ISO_UTC_MS.test(value.issued_at)) return '"issued_at" must be an ISO 8601 UTC time with milliseconds';
  if (!Array.isArray(value.keys) || value.keys.length === 0 || !value.keys.every((k) => typeof k === 'string' && KID_PATTERN.test(k))) return '"keys" must list key ids';
  if (!value.keys.includes(value.kid)) return '"keys" must include the key that signs';
  if (!Array.isArray(value.heads)) return '"heads" must be an array';
  const seen = new Set<string>();
  for (const [i, h] of value.heads.entries()) {
    if (!isObject(h) || exactKeys(h, ['session_id', 'seq', 'cid'])) return `heads[${i}] must be { session_id, seq, cid }`;
    if (typeof h.session_id !== 'string' || !SESSION_ID_PATTERN.test(h.session_id)) return `heads[${i}].session_id must be a session id`;
    if (!Number.isSafeInteger(h.seq) || (h.seq as number) < 0) return `heads[${i}].seq must be a non-negative integer`;
    if (typeof h.cid !== 'string' || !RECEIPT_CID_PATTERN.test(h.cid)) return `heads[${i}].cid must be a receipt CID (bafkrei…)`;
    if (seen.has(h.session_id)) return `heads[${i}]: session ${h.session_id} is listed twice`;
    seen.add(h.session_id);
  }
  return null;
}

export function countersignatureProblem(value: unknown): string | null {
  if (!isObject(value)) return 'countersignature envelope is not an object';
  const extra = exactKeys(value, ['v', 'kind', 'pod', 'kid', 'attested_pod', 'attestation_sha256', 'received_at']);
  if (extra) return extra;
  if (value.v !== ATTESTATION_VERSION) return `unsupported countersignature version ${JSON.stringify(value.v)}`;
  if (value.kind !== 'countersignature') return '"kind" must be "countersignature"';
  for (const k of ['pod', 'attested_pod'] as const) if (typeof value[k] !== 'string' || !POD_NAME_PATTERN.test(value[k] as string)) return `"${k}" must be a pod name`;
  if (typeof value.kid !== 'string' || !KID_PATTERN.test(value.kid)) return '"kid" must be a key id';
  if (typeof value.attestation_sha256 !== 'string' || !SHA256_HEX.test(value.attestation_sha256)) return '"attestation_sha256" must be 64 lowercase hex digits';
  if (typeof value.received_at !== 'string' || !ISO_UTC_MS.test(value.received_at)) return '"received_at" must be an ISO 8601 UTC time with milliseconds';
  return null;
}

async function signEnvelope<E extends { kid: string }>(fields: Omit<E, 'v' | 'kind' | 'kid'>, kind: string, secretKey: Uint8Array, problem: (e: unknown) => string | null): Promise<Signed<E>> {
  const kid = await keyIdFor(await ed.getPublicKeyAsync(secretKey));
  const envelope = { v: ATTESTATION_VERSION, kind, kid, ...fields } as unknown as E;
  const bad = problem(envelope);
  if (bad) throw new Error(`refusing to sign an invalid ${kind}: ${bad}`);
  return { envelope, signature: bytesToBase64(await ed.signAsync(canonicalBytes(envelope), secretKey)) };
}

/** A pod's attestation of its chain heads and key list, signed with its active key (whose id must be in `keys`). */
export function signAttestation(fields: Omit<AttestationEnvelope, 'v' | 'kind' | 'kid'>, secretKey: Uint8Array): Promise<SignedAttestation> {
  return signEnvelope<AttestationEnvelope>(fields, 'chain-heads', secretKey, attestationProblem);
}

export function attestationSha256(doc: SignedAttestation): Promise<string> {
  return sha256Hex(canonicalBytes({ envelope: doc.envelope, signature: doc.signature }));
}

/** The receiving peer's countersignature: what it saw (by hash) and when. */
export async function countersign(doc: SignedAttestation, by: { pod: string; receivedAt: string }, secretKey: Uint8Array): Promise<Countersignature> {
  return signEnvelope<CountersignatureEnvelope>(
    { pod: by.pod, attested_pod: doc.envelope.pod, attestation_sha256: await attestationSha256(doc), received_at: by.receivedAt },
    'countersignature',
    secretKey,
    countersignatureProblem,
  );
}

async function checkSigned(doc: unknown, problem: (e: unknown) => string | null, keyFor: (kid: string) => Uint8Array | undefined, what: string): Promise<Check> {
  if (!isObject(doc)) return { ok: false, reason: `${what} is not a JSON object` };
  const extra = exactKeys(doc, ['envelope', 'signature']);
  if (extra) return { ok: false, reason: `${what}: ${extra}` };
  const bad = problem(doc.envelope);
  if (bad) return { ok: false, reason: `${what}: ${bad}` };
  const env = doc.envelope as { kid: string };
  const key = keyFor(env.kid);
  if (!key) return { ok: false, reason: `${what} is signed with key ${env.kid}, which is not one of the signer's published keys` };
  let sig: Uint8Array;
  try {
    sig = base64ToBytes(doc.signature as string);
  } catch {
    return { ok: false, reason: `${what}: "signature" is not base64` };
  }
  if (sig.length !== 64 || !(await ed25519Verify(sig, canonicalBytes(doc.envelope), key))) return { ok: false, reason: `${what}: signature does not match its contents` };
  return { ok: true };
}

/** A peer as the receiving pod knows it: its published keys (by id) and whether its peering was revoked. */
export interface KnownPeer {
  keys: ReadonlyMap<string, Uint8Array>;
  revokedAt: string | null;
}

/** The receiving side's decision: the sender is a peer, not revoked, and signed with a key it published. */
export async function acceptAttestation(doc: unknown, peers: ReadonlyMap<string, KnownPeer>): Promise<Check> {
  const pod = isObject(doc) && isObject(doc.envelope) ? doc.envelope.pod : undefined;
  if (typeof pod !== 'string') return { ok: false, reason: 'attestation: "envelope.pod" is missing' };
  const peer = peers.get(pod);
  if (!peer) return { ok: false, reason: `pod ${pod} is not a peer of this pod` };
  if (peer.revokedAt) return { ok: false, reason: `pod ${pod}'s peering was revoked at ${peer.revokedAt}` };
  return checkSigned(doc, attestationProblem, (kid) => peer.keys.get(kid), 'attestation');
}

/** Both signatures of a kept exchange, and that the countersignature is of this very attestation. */
export async function verifyCountersigned(doc: CountersignedAttestation, attesterKeys: ReadonlyMap<string, Uint8Array>, peerKeys: ReadonlyMap<string, Uint8Array>): Promise<Check> {
  const a = await checkSigned(doc.attestation, attestationProblem, (kid) => attesterKeys.get(kid), 'attestation');
  if (!a.ok) return a;
  const c = await checkSigned(doc.countersignature, countersignatureProblem, (kid) => peerKeys.get(kid), 'countersignature');
  if (!c.ok) return c;
  if (doc.countersignature.envelope.attestation_sha256 !== (await attestationSha256(doc.attestation))) return { ok: false, reason: 'the countersignature is of another attestation' };
  if (doc.countersignature.envelope.attested_pod !== doc.attestation.envelope.pod) return { ok: false, reason: 'the countersignature names another pod' };
  return { ok: true };
}

/** One peer's sighting of a session's head, as a verifier shows it. */
export interface HeadSighting {
  peer: string;
  seq: number;
  cid: string;
  attested_at: string;
  received_at: string;
  /** Whether the chain as published now has this CID at this seq. */
  consistent: boolean;
  detail: string;
}

/**
 * For one session: which peers saw which head when, and whether the chain as
 * published now agrees. A CID at an attested seq that differs from the
 * attested one, or a chain that no longer reaches that seq, is a rewrite.
 * The exchanges are taken as verified (verifyCountersigned) by the caller.
 */
export function headSightings(sessionId: string, chainCids: readonly string[], exchanges: readonly CountersignedAttestation[]): HeadSighting[] {
  const out: HeadSighting[] = [];
  for (const x of exchanges) {
    for (const h of x.attestation.envelope.heads) {
      if (h.session_id !== sessionId) continue;
      const now = chainCids[h.seq];
      const consistent = now === h.cid;
      out.push({
        peer: x.countersignature.envelope.pod,
        seq: h.seq,
        cid: h.cid,
        attested_at: x.attestation.envelope.issued_at,
        received_at: x.countersignature.envelope.received_at,
        consistent,
        detail: consistent
          ? `seen by ${x.countersignature.envelope.pod} at ${x.countersignature.envelope.received_at}`
          : now === undefined
            ? `rewritten: ${x.countersignature.envelope.pod} saw seq ${h.seq} = ${h.cid} at ${x.countersignature.envelope.received_at}; the chain now ends before it (${chainCids.length} receipts)`
            : `rewritten: ${x.countersignature.envelope.pod} saw seq ${h.seq} = ${h.cid} at ${x.countersignature.envelope.received_at}; the chain now has ${now} there`,
      });
    }
  }
  return out.sort((a, b) => a.received_at.localeCompare(b.received_at) || a.peer.localeCompare(b.peer));
}
