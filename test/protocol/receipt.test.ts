import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalize, publicKeyFromPem, signReceipt, verifyReceipt, type ReceiptEnvelope } from '@trd/protocol';
import { generateSigningKeyPem, normalizePem, signingKeyFromPem } from '../../platform/signing-key.js';

const fields: Omit<ReceiptEnvelope, 'v' | 'kid'> = {
  job_id: 'job_0123456789abcdef0123456789abcdef',
  worker_id: 'runner-a',
  model: 'trd-tiny',
  model_sha256: 'a'.repeat(64),
  prompt_sha256: 'b'.repeat(64),
  output_sha256: 'c'.repeat(64),
  prompt_tokens: 5,
  completion_tokens: 7,
  started_at: '2026-01-01T00:00:00.000Z',
  finished_at: '2026-01-01T00:00:01.500Z',
  duration_ms: 1500,
  issued_at: '2026-01-01T00:00:02.000Z',
};

describe('receipt signing', () => {
  test('signs canonical bytes that verify, and are stable across key order', async () => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    const receipt = await signReceipt(fields, key.secretKey);
    expect(receipt.envelope.kid).toBe(key.kid);
    expect(await verifyReceipt(receipt, key.publicKey)).toEqual({ ok: true, kid: key.kid });
    const shuffled = JSON.parse(JSON.stringify({ signature: receipt.signature, envelope: Object.fromEntries(Object.entries(receipt.envelope).reverse()) }));
    expect(await verifyReceipt(shuffled, key.publicKey)).toEqual({ ok: true, kid: key.kid });
  });

  test('an independent verifier (the openssl command) accepts it', async () => {
    const pem = generateSigningKeyPem();
    const key = await signingKeyFromPem(pem);
    const receipt = await signReceipt(fields, key.secretKey);
    const dir = mkdtempSync(join(tmpdir(), 'receipt-'));
    writeFileSync(join(dir, 'pub.pem'), key.publicKeyPem);
    writeFileSync(join(dir, 'msg'), canonicalize(receipt.envelope));
    writeFileSync(join(dir, 'sig'), Buffer.from(receipt.signature, 'base64'));
    const out = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', 'msg', '-sigfile', 'sig'], { cwd: dir }).toString();
    expect(out).toMatch(/Signature Verified Successfully/);
    writeFileSync(join(dir, 'msg'), canonicalize({ ...receipt.envelope, completion_tokens: 8 }));
    expect(() => execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', 'msg', '-sigfile', 'sig'], { cwd: dir, stdio: 'pipe' })).toThrow();
  });

  test('refuses to sign an envelope with a malformed field', async () => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    await expect(signReceipt({ ...fields, prompt_tokens: 1.5 }, key.secretKey)).rejects.toThrow(/prompt_tokens/);
    await expect(signReceipt({ ...fields, started_at: 'yesterday' }, key.secretKey)).rejects.toThrow(/started_at/);
  });
});

describe('receipt verification says why it fails', () => {
  test.each([
    ['not an object', 'hello', /not a JSON object/],
    ['an unknown top-level field', { extra: 1 }, /unknown field "extra"/],
    ['a wrong version', { envelope: { v: 3 } }, /version 3/],
    ['a chained receipt without its chain fields', { envelope: { v: 2 } }, /"session_id" must be a session id/],
    ['a first chained receipt with a prev', { envelope: { v: 2, session_id: 's-1', seq: 0, prev: 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4' } }, /"prev" must be null for the first/],
    ['a later chained receipt without a prev', { envelope: { v: 2, session_id: 's-1', seq: 3, prev: null } }, /"prev" must be the CID of the previous receipt/],
    ['a bad signature encoding', { signature: '***' }, /not valid base64/],
    ['a short signature', { signature: 'AAAA' }, /3 bytes/],
    ['an unknown envelope field', { envelope: { extra: true } }, /unknown field "extra"/],
  ])('%s', async (_name, patch, reason) => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    const receipt = await signReceipt(fields, key.secretKey);
    const doc =
      typeof patch === 'string'
        ? patch
        : { ...receipt, ...patch, ...('envelope' in patch ? { envelope: { ...receipt.envelope, ...(patch.envelope as object) } } : {}) };
    const check = await verifyReceipt(doc, key.publicKey);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(reason);
  });

  test('a receipt checked against another key names both keys', async () => {
    const [a, b] = [await signingKeyFromPem(generateSigningKeyPem()), await signingKeyFromPem(generateSigningKeyPem())];
    const check = await verifyReceipt(await signReceipt(fields, a.secretKey), b.publicKey);
    expect(check).toEqual({ ok: false, reason: `receipt names key ${a.kid}, but the key given is ${b.kid}` });
  });
});

describe('signing key PEM', () => {
  test('tolerates a BOM, quotes, \\n escapes and CRLF', async () => {
    const pem = generateSigningKeyPem();
    const expected = await signingKeyFromPem(pem);
    const mangled = [
      `\uFEFF${pem}`,
      `"${pem.trim().replace(/\n/g, '\\n')}"`,
      `'${pem}'`,
      pem.replace(/\n/g, '\r\n'),
    ];
    for (const text of mangled) expect((await signingKeyFromPem(text)).kid).toBe(expected.kid);
    expect(normalizePem(`"a\\nb"`)).toBe('a\nb');
  });

  test('refuses what is not an Ed25519 private key', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await expect(signingKeyFromPem(rsa)).rejects.toThrow(/must be Ed25519, got rsa/);
    await expect(signingKeyFromPem('hello')).rejects.toThrow(/PKCS#8 PEM/);
    await expect(signingKeyFromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).rejects.toThrow(/could not be parsed/);
  });

  test('public keys round-trip through PEM', async () => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    expect(publicKeyFromPem(key.publicKeyPem)).toEqual(key.publicKey);
    expect(() => publicKeyFromPem('nope')).toThrow(/not a PEM public key/);
  });
});
