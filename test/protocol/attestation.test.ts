/**
 * Chain-head attestations (protocol/attestation.ts), the pure part of
 * federation: pod A signs its session heads and key list, pod B accepts it
 * (a known, unrevoked peer, a published key) and countersigns, and a chain A
 * rewrites afterwards is caught from B's countersigned head. Two pods here are
 * two signing keys and their real receipt chains, not two platforms.
 */
import { describe, expect, test } from '@jest/globals';
import {
  acceptAttestation,
  cidOfBytes,
  countersign,
  headSightings,
  receiptDocumentBytes,
  signAttestation,
  signReceipt,
  verifyCountersigned,
  type KnownPeer,
  type SignedAttestation,
} from '@trd/protocol';
import { generateSigningKeyPem, signingKeyFromPem, type SigningKey } from '../../platform/signing-key.js';
import { RECEIPT_FIELDS } from '../support/receipt-fields.js';

const SESSION = 'fed-session';

/** A session chain of `n` receipts signed by `key`; `salt` changes the outputs (a rewrite). */
async function chain(key: SigningKey, n: number, salt = ''): Promise<string[]> {
  const cids: string[] = [];
  for (let seq = 0; seq < n; seq++) {
    const r = await signReceipt(
      { ...RECEIPT_FIELDS, output_sha256: (salt ? 'd' : 'c').repeat(64), job_id: `job_${seq}`, issued_at: '2026-03-01T00:00:02.000Z', session_id: SESSION, seq, prev: seq === 0 ? null : cids[seq - 1]! },
      key.secretKey,
    );
    cids.push(await cidOfBytes(receiptDocumentBytes(r)));
  }
  return cids;
}

const keysOf = (...ks: SigningKey[]) => new Map(ks.map((k) => [k.kid, k.publicKey]));

describe('chain-head attestations between two pods', () => {
  test('a head attested by A, accepted and countersigned by B, verifies; the chain as published agrees', async () => {
    const a = await signingKeyFromPem(generateSigningKeyPem());
    const b = await signingKeyFromPem(generateSigningKeyPem());
    const cids = await chain(a, 3);
    const doc = await signAttestation({ pod: 'pod-a', issued_at: '2026-03-01T01:00:00.000Z', heads: [{ session_id: SESSION, seq: 2, cid: cids[2]! }], keys: [a.kid] }, a.secretKey);
    const peers = new Map<string, KnownPeer>([['pod-a', { keys: keysOf(a), revokedAt: null }]]);
    expect(await acceptAttestation(doc, peers)).toEqual({ ok: true });
    const cs = await countersign(doc, { pod: 'pod-b', receivedAt: '2026-03-01T01:00:00.250Z' }, b.secretKey);
    const kept = { attestation: doc, countersignature: cs };
    expect(await verifyCountersigned(kept, keysOf(a), keysOf(b))).toEqual({ ok: true });
    expect(headSightings(SESSION, cids, [kept])).toEqual([
      { peer: 'pod-b', seq: 2, cid: cids[2], attested_at: '2026-03-01T01:00:00.000Z', received_at: '2026-03-01T01:00:00.250Z', consistent: true, detail: 'seen by pod-b at 2026-03-01T01:00:00.250Z' },
    ]);
  });

  test('a rewritten chain is caught from the peer’s countersigned head: another CID at the seq, or a chain that ends before it', async () => {
    const a = await signingKeyFromPem(generateSigningKeyPem());
    const b = await signingKeyFromPem(generateSigningKeyPem());
    const original = await chain(a, 3);
    const doc = await signAttestation({ pod: 'pod-a', issued_at: '2026-03-01T01:00:00.000Z', heads: [{ session_id: SESSION, seq: 2, cid: original[2]! }], keys: [a.kid] }, a.secretKey);
    const kept = { attestation: doc, countersignature: await countersign(doc, { pod: 'pod-b', receivedAt: '2026-03-01T01:00:01.000Z' }, b.secretKey) };
    // A re-signs the session with other outputs: every signature of the new chain is valid, and it is still caught.
    const rewritten = await chain(a, 3, 'rewrite');
    expect(rewritten[2]).not.toBe(original[2]);
    const [sighting] = headSightings(SESSION, rewritten, [kept]);
    expect(sighting).toMatchObject({ consistent: false, detail: `rewritten: pod-b saw seq 2 = ${original[2]} at 2026-03-01T01:00:01.000Z; the chain now has ${rewritten[2]} there` });
    expect(headSightings(SESSION, original.slice(0, 2), [kept])[0]).toMatchObject({ consistent: false, detail: expect.stringMatching(/the chain now ends before it \(2 receipts\)$/) });
    // Other sessions' heads are not this session's sightings.
    expect(headSightings('another-session', rewritten, [kept])).toEqual([]);
  });

  test('the receiver refuses a revoked peer, an unknown pod, and a key the peer did not publish', async () => {
    const a = await signingKeyFromPem(generateSigningKeyPem());
    const stray = await signingKeyFromPem(generateSigningKeyPem());
    const cids = await chain(a, 1);
    const doc = await signAttestation({ pod: 'pod-a', issued_at: '2026-03-01T01:00:00.000Z', heads: [{ session_id: SESSION, seq: 0, cid: cids[0]! }], keys: [a.kid] }, a.secretKey);
    expect(await acceptAttestation(doc, new Map([['pod-a', { keys: keysOf(a), revokedAt: '2026-03-01T00:30:00.000Z' }]]))).toEqual({
      ok: false,
      reason: "pod pod-a's peering was revoked at 2026-03-01T00:30:00.000Z",
    });
    expect(await acceptAttestation(doc, new Map())).toEqual({ ok: false, reason: 'pod pod-a is not a peer of this pod' });
    expect(await acceptAttestation(doc, new Map([['pod-a', { keys: keysOf(stray), revokedAt: null }]]))).toMatchObject({ ok: false, reason: expect.stringMatching(/not one of the signer's published keys/) });
  });

  test('a changed head, a countersignature of another attestation, or one by a key not the peer’s, is refused', async () => {
    const a = await signingKeyFromPem(generateSigningKeyPem());
    const b = await signingKeyFromPem(generateSigningKeyPem());
    const cids = await chain(a, 2);
    const doc = await signAttestation({ pod: 'pod-a', issued_at: '2026-03-01T01:00:00.000Z', heads: [{ session_id: SESSION, seq: 1, cid: cids[1]! }], keys: [a.kid] }, a.secretKey);
    const peers = new Map<string, KnownPeer>([['pod-a', { keys: keysOf(a), revokedAt: null }]]);
    const changed: SignedAttestation = { ...doc, envelope: { ...doc.envelope, heads: [{ session_id: SESSION, seq: 0, cid: cids[0]! }] } };
    expect(await acceptAttestation(changed, peers)).toEqual({ ok: false, reason: 'attestation: signature does not match its contents' });
    const other = await signAttestation({ ...doc.envelope, issued_at: '2026-03-01T02:00:00.000Z' }, a.secretKey);
    const cs = await countersign(other, { pod: 'pod-b', receivedAt: '2026-03-01T02:00:00.100Z' }, b.secretKey);
    expect(await verifyCountersigned({ attestation: doc, countersignature: cs }, keysOf(a), keysOf(b))).toEqual({ ok: false, reason: 'the countersignature is of another attestation' });
    const csOk = await countersign(doc, { pod: 'pod-b', receivedAt: '2026-03-01T01:00:00.100Z' }, b.secretKey);
    expect(await verifyCountersigned({ attestation: doc, countersignature: csOk }, keysOf(a), keysOf(a))).toMatchObject({ ok: false, reason: expect.stringMatching(/^countersignature is signed with key/) });
  });

  test('shape: a key list without the signing key, a head twice, or a non-receipt CID cannot be signed', async () => {
    const a = await signingKeyFromPem(generateSigningKeyPem());
    const cid = (await chain(a, 1))[0]!;
    const base = { pod: 'pod-a', issued_at: '2026-03-01T01:00:00.000Z', heads: [{ session_id: SESSION, seq: 0, cid }], keys: [a.kid] };
    await expect(signAttestation({ ...base, keys: ['ed25519-other'] }, a.secretKey)).rejects.toThrow('"keys" must include the key that signs');
    await expect(signAttestation({ ...base, heads: [base.heads[0]!, base.heads[0]!] }, a.secretKey)).rejects.toThrow(/listed twice/);
    await expect(signAttestation({ ...base, heads: [{ session_id: SESSION, seq: 0, cid: 'Qm' }] }, a.secretKey)).rejects.toThrow(/must be a receipt CID/);
    await expect(signAttestation({ ...base, pod: 'Pod A' }, a.secretKey)).rejects.toThrow(/"pod" must be a pod name/);
  });
});
