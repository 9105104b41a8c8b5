/** The signed catalog: verifies with the platform key; any change, another key, a receipt's domain or a retired key is refused. */
import { describe, expect, test } from '@jest/globals';
import * as ed from '@noble/ed25519';
import { CATALOG_DATA_MODELS, keyIdFor, signCatalog, verifyCatalogDocument, type TrustedKey } from '@trd/protocol';

async function key(): Promise<{ secret: Uint8Array; trusted: Map<string, TrustedKey> }> {
  const secret = ed.utils.randomSecretKey();
  const publicKey = await ed.getPublicKeyAsync(secret);
  const kid = await keyIdFor(publicKey);
  return { secret, trusted: new Map([[kid, { kid, publicKey, retiredAt: null }]]) };
}

describe('the signed catalog document', () => {
  test("verifies with the platform's key and yields the catalog's models", async () => {
    const k = await key();
    const doc = await signCatalog(CATALOG_DATA_MODELS, k.secret, new Date('2026-12-01T00:00:00.000Z'));
    const checked = await verifyCatalogDocument(JSON.parse(JSON.stringify(doc)), k.trusted);
    expect(checked.ok && checked.models.map((m) => m.key)).toEqual(expect.arrayContaining(['smollm2-135m-instruct', 'gemma3-270m', 'trd-tiny']));
  });

  test('a changed pin, another key, a retired key or a bad shape is refused with the reason', async () => {
    const k = await key();
    const other = await key();
    const doc = await signCatalog(CATALOG_DATA_MODELS, k.secret, new Date('2026-12-01T00:00:00.000Z'));
    const tampered = structuredClone(doc) as any;
    tampered.claims.models[1].sha256 = 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818';
    expect(await verifyCatalogDocument(tampered, k.trusted)).toEqual({ ok: false, reason: 'the catalog signature does not verify with the platform key' });
    expect((await verifyCatalogDocument(doc, other.trusted)) as any).toMatchObject({ ok: false, reason: expect.stringMatching(/signed by key ed25519-.*, not a platform key/) });
    const retired = new Map([...k.trusted].map(([kid, t]) => [kid, { ...t, retiredAt: '2026-11-30T00:00:00.000Z' }]));
    expect((await verifyCatalogDocument(doc, retired)) as any).toMatchObject({ ok: false, reason: expect.stringMatching(/issued after key .* was retired/) });
    expect((await verifyCatalogDocument({ claims: { ...doc.claims, type: 'receipt' }, signature: doc.signature }, k.trusted)) as any).toMatchObject({ ok: false, reason: /not a version 1/ });
    expect((await verifyCatalogDocument('nope', k.trusted)) as any).toMatchObject({ ok: false });
  });
});
