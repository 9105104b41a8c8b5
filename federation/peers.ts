/**
 * What the gateway and the orchestrator's federation activities share about peers: their published
 * keys (fetched from the peer's /keys, each key id checked against the key it names, and fetched
 * again when a document is signed with one not seen yet), this pod's own keys, and the session heads
 * an attestation to a peer carries.
 */
import { keyIdFor, publicKeyFromPem } from '@trd/protocol';
import type { Db } from '../platform/db.js';

export interface StoredKey {
  kid: string;
  public_key_pem: string;
}

export class PeerUnreachableError extends Error {}

/** GET `url` as JSON within `timeoutMs`; an unreachable peer, a non-2xx or non-JSON answer is a PeerUnreachableError naming it. */
export async function fetchPeerJson(url: string, timeoutMs: number, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new PeerUnreachableError(`cannot reach ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    throw new PeerUnreachableError(`${url} answered ${res.status} with no JSON: ${text.slice(0, 200)}`);
  }
}

/** The keys a pod publishes at `<baseUrl>/keys`; a key whose id is not its own key's is left out. */
export async function fetchPeerKeys(baseUrl: string, timeoutMs: number): Promise<StoredKey[]> {
  const { status, body } = await fetchPeerJson(`${baseUrl}/keys`, timeoutMs);
  if (status !== 200 || !Array.isArray(body?.keys)) throw new PeerUnreachableError(`${baseUrl}/keys answered ${status}, not a key list`);
  const keys: StoredKey[] = [];
  for (const k of body.keys) {
    if (typeof k?.kid !== 'string' || typeof k?.public_key_pem !== 'string') continue;
    try {
      if ((await keyIdFor(publicKeyFromPem(k.public_key_pem))) === k.kid) keys.push({ kid: k.kid, public_key_pem: k.public_key_pem });
    } catch {
      // Not an Ed25519 public key: not one of its signing keys.
    }
  }
  return keys;
}

export function keyMap(keys: unknown): Map<string, Uint8Array> {
  return new Map((keys as StoredKey[]).map((k) => [k.kid, publicKeyFromPem(k.public_key_pem)]));
}

/** A peer's keys, fetched again (and kept) when `kid` is not among those known: the peer published a new key since. */
export async function peerKeysFor(db: Db, peer: { name: string; baseUrl: string; keys: unknown }, kid: string, timeoutMs: number): Promise<Map<string, Uint8Array>> {
  const known = keyMap(peer.keys);
  if (known.has(kid)) return known;
  const keys = await fetchPeerKeys(peer.baseUrl, timeoutMs);
  await db.peer.update({ where: { name: peer.name }, data: { keys: keys as unknown as object, keysFetchedAt: new Date() } });
  return keyMap(keys);
}

/** This pod's published signing keys, by id (retired ones too: they signed older receipts and attestations). */
export async function ownKeys(db: Db): Promise<Map<string, Uint8Array>> {
  const rows = await db.signingKey.findMany({ orderBy: { activatesAt: 'asc' } });
  return new Map(rows.map((k) => [k.kid, publicKeyFromPem(k.publicKeyPem)]));
}

/** Session heads (the highest seq of each session's chain) that `peer` has not countersigned yet, by session id. */
export async function headsToAttest(db: Db, peer: string, max: number): Promise<Array<{ session_id: string; seq: number; cid: string }>> {
  return db.$queryRaw<Array<{ session_id: string; seq: number; cid: string }>>`
    SELECT r.session_id, r.seq, r.cid
    FROM receipts r
    JOIN (SELECT session_id, max(seq) AS seq FROM receipts WHERE session_id IS NOT NULL AND cid IS NOT NULL GROUP BY session_id) h
      ON h.session_id = r.session_id AND h.seq = r.seq
    WHERE NOT EXISTS (
      SELECT 1 FROM attested_heads a JOIN sent_attestations s ON s.sha256 = a.attestation_sha256
      WHERE a.peer = ${peer} AND a.sent AND s.countersigned_at IS NOT NULL
        AND a.session_id = r.session_id AND a.seq = r.seq AND a.cid = r.cid)
    ORDER BY r.session_id
    LIMIT ${max}`;
}
