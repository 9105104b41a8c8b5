/** Proof of work sealed for the customer (protocol/proof.ts): sealing, opening, refusals, and the receipt fields that name it. */
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PROOF_VERSION,
  ProofKeyError,
  bytesToBase64,
  cidOfBytes,
  openProof,
  parseProofPrivateKey,
  parseProofPublicKey,
  proofProblems,
  proofPublicKeyProblem,
  sealProof,
  sha256Hex,
  signReceipt,
  verifyReceipt,
} from '@trd/protocol';
import { generateSigningKeyPem, signingKeyFromPem } from '../../platform/signing-key.js';
import { RECEIPT_FIELDS } from '../support/receipt-fields.js';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicRaw: bytesToBase64(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12))),
    privateRaw: bytesToBase64(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16))),
  };
}

const contents = { job_id: 'job_0123456789abcdef0123456789abcdef', prompt: 'Summarise: the quick brown fox 🦊', output: 'A fox, quickly.' };

function alter(blob: Uint8Array, field: string, flip: (b: Buffer) => void): Uint8Array {
  const doc = JSON.parse(new TextDecoder().decode(blob));
  const bytes = Buffer.from(doc[field], 'base64');
  flip(bytes);
  doc[field] = bytes.toString('base64');
  return new TextEncoder().encode(JSON.stringify(doc));
}

describe('sealing and opening', () => {
  const k = keyPair();

  test('round trip: the key (PEM or raw base64) opens what was sealed to its public key (PEM or raw), and the contents match the hashes', async () => {
    const blob = await sealProof(contents, parseProofPublicKey(k.publicPem));
    const text = new TextDecoder().decode(blob);
    // Nothing in the clear: not the prompt, not the output.
    expect(text).not.toContain('quick brown');
    expect(text).not.toContain('A fox');
    for (const key of [k.privatePem, k.privateRaw]) {
      const opened = await openProof(blob, parseProofPrivateKey(key));
      expect(opened).toEqual({ ok: true, contents: { v: PROOF_VERSION, ...contents } });
    }
    const raw = await sealProof(contents, parseProofPublicKey(k.publicRaw));
    expect(await openProof(raw, parseProofPrivateKey(k.privateRaw))).toMatchObject({ ok: true });
    const envelope = { job_id: contents.job_id, prompt_sha256: await sha256Hex(contents.prompt), output_sha256: await sha256Hex(contents.output) };
    expect(await proofProblems({ v: 1, ...contents }, envelope)).toEqual([]);
  });

  test('each sealing has its own ephemeral key: the same job sealed twice gives two CIDs', async () => {
    const pub = parseProofPublicKey(k.publicRaw);
    expect(await cidOfBytes(await sealProof(contents, pub))).not.toBe(await cidOfBytes(await sealProof(contents, pub)));
  });

  test('a wrong key is refused as such', async () => {
    const blob = await sealProof(contents, parseProofPublicKey(k.publicRaw));
    const other = keyPair();
    expect(await openProof(blob, parseProofPrivateKey(other.privateRaw))).toEqual({ ok: false, reason: 'wrong key: this blob was not sealed to the key given' });
  });

  test('a tampered blob is refused: a ciphertext bit fails the tag; an altered key check or ephemeral key reads as not sealed to this key', async () => {
    const blob = await sealProof(contents, parseProofPublicKey(k.publicRaw));
    const key = parseProofPrivateKey(k.privateRaw);
    expect(await openProof(alter(blob, 'ciphertext', (b) => (b[3] ^= 1)), key)).toEqual({ ok: false, reason: 'the blob was altered: its ciphertext fails the authentication tag' });
    expect(await openProof(alter(blob, 'nonce', (b) => (b[0] ^= 1)), key)).toEqual({ ok: false, reason: 'the blob was altered: its ciphertext fails the authentication tag' });
    expect(await openProof(alter(blob, 'key_check', (b) => (b[0] ^= 1)), key)).toMatchObject({ ok: false, reason: expect.stringMatching(/^wrong key/) });
    expect(await openProof(alter(blob, 'epk', (b) => (b[0] ^= 1)), key)).toMatchObject({ ok: false });
    expect(await openProof(new TextEncoder().encode('not json'), key)).toEqual({ ok: false, reason: 'the blob is not a JSON document' });
    const v2 = JSON.parse(new TextDecoder().decode(blob));
    expect(await openProof(new TextEncoder().encode(JSON.stringify({ ...v2, v: 2 })), key)).toEqual({ ok: false, reason: 'unsupported proof version 2' });
  });

  test('contents that contradict the receipt are named: another job, another prompt, another output', async () => {
    const envelope = { job_id: 'job_other', prompt_sha256: 'b'.repeat(64), output_sha256: await sha256Hex(contents.output) };
    const problems = await proofProblems({ v: 1, ...contents }, envelope);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^the proof is of job job_0123/);
    expect(problems[1]).toMatch(/^the sealed prompt hashes to [0-9a-f]{64}, the receipt says b{64}$/);
  });

  test('keys: clear errors for what is not an X25519 key; a low-order point cannot be sealed to', async () => {
    expect(() => parseProofPublicKey('short')).toThrow(ProofKeyError);
    expect(() => parseProofPublicKey(k.privatePem)).toThrow(/not an X25519 PUBLIC KEY/);
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parseProofPublicKey(ed)).toThrow(/not an X25519 PUBLIC KEY/);
    expect(() => parseProofPrivateKey(k.publicPem)).toThrow(/not an X25519 PRIVATE KEY/);
    expect(await proofPublicKeyProblem(new Uint8Array(32))).toMatch(/low-order point/);
    expect(await proofPublicKeyProblem(parseProofPublicKey(k.publicRaw))).toBeNull();
  });

  test("openssl's own X25519 keys work: a customer needs no tool of ours", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proof-'));
    execFileSync('openssl', ['genpkey', '-algorithm', 'X25519', '-out', join(dir, 'k.pem')]);
    const pub = execFileSync('openssl', ['pkey', '-in', join(dir, 'k.pem'), '-pubout'], { encoding: 'utf8' });
    const blob = await sealProof(contents, parseProofPublicKey(pub));
    expect(await openProof(blob, parseProofPrivateKey(readFileSync(join(dir, 'k.pem'), 'utf8')))).toMatchObject({ ok: true });
  });
});

describe('the receipt fields', () => {
  const base = { ...RECEIPT_FIELDS, job_id: 'job_p', issued_at: '2026-03-01T00:00:02.000Z' };
  const cid = 'bafkrei' + 'a'.repeat(52);

  test('a receipt naming its proof signs and verifies; one without the fields is what it was', async () => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    const withProof = await signReceipt({ ...base, proof_cid: cid, proof_v: 1 }, key.secretKey);
    expect(await verifyReceipt(withProof, key.publicKey)).toMatchObject({ ok: true });
    const without = await signReceipt(base, key.secretKey);
    expect(Object.keys(without.envelope)).not.toContain('proof_cid');
    // A receipt that had a proof cannot lose it unnoticed.
    const { proof_cid: _c, proof_v: _v, ...stripped } = withProof.envelope;
    expect(await verifyReceipt({ ...withProof, envelope: stripped }, key.publicKey)).toEqual({ ok: false, reason: 'signature does not match the receipt contents' });
  });

  test.each([
    ['a CID without its version', { proof_cid: cid }, /"proof_cid" and "proof_v" come together/],
    ['a version without its CID', { proof_v: 1 }, /"proof_cid" and "proof_v" come together/],
    ['a CID that is not raw', { proof_cid: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', proof_v: 1 }, /"proof_cid" must be a raw CID/],
    ['a version 0', { proof_cid: cid, proof_v: 0 }, /"proof_v" must be a positive integer/],
  ])('refuses %s', async (_name, fields, reason) => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    await expect(signReceipt({ ...base, ...fields } as never, key.secretKey)).rejects.toThrow(reason);
  });
});
