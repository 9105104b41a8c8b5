/**
 * The signed catalog: the platform's statement of which models it serves
 * and which bytes each key must be (the pinned sha256). The orchestrator
 * signs the catalog with the receipt key; the gateway serves the document
 * at /v1/catalog; a runner checks it with the published keys (GET /keys)
 * and refuses to serve from a catalog that does not verify. The signed bytes
 * are the canonical JSON of the claims behind their own domain tag, so a
 * catalog signature is never taken for a receipt's or a dispatch's.
 */
import * as ed from '@noble/ed25519';
import { canonicalize } from './canonical-json.js';
import { ISO_UTC_MS, SHA256_HEX, base64ToBytes, bytesToBase64, sha256Hex } from './encoding.js';
import { keyIdFor } from './keys.js';
import { parseCatalog, type CatalogModel } from './models.js';
import { ed25519Verify } from './receipt.js';
import type { TrustedKey } from './dispatch.js';

const DOMAIN = 'trd-catalog-v1\n';
export const CATALOG_DOCUMENT_TYPE = 'trd.model-catalog';

export interface CatalogClaims {
  v: 1;
  type: typeof CATALOG_DOCUMENT_TYPE;
  kid: string;
  /** SHA-256 of the canonical JSON of `models`: the catalog's name in logs and in the store. */
  catalog_sha256: string;
  issued_at: string;
  models: unknown[];
}

export interface SignedCatalog {
  claims: CatalogClaims;
  signature: string;
}

export function catalogSha256(models: readonly unknown[]): Promise<string> {
  return sha256Hex(canonicalize(models));
}

function signingBytes(claims: CatalogClaims): Uint8Array {
  return new TextEncoder().encode(DOMAIN + canonicalize(claims));
}

export async function signCatalog(models: readonly unknown[], secretKey: Uint8Array, issuedAt: Date): Promise<SignedCatalog> {
  const claims: CatalogClaims = {
    v: 1,
    type: CATALOG_DOCUMENT_TYPE,
    kid: await keyIdFor(await ed.getPublicKeyAsync(secretKey)),
    catalog_sha256: await catalogSha256(models),
    issued_at: issuedAt.toISOString(),
    models: [...models],
  };
  return { claims, signature: bytesToBase64(await ed.signAsync(signingBytes(claims), secretKey)) };
}

/** The verified catalog's models, or why the document must be refused. */
export async function verifyCatalogDocument(
  doc: unknown,
  keys: ReadonlyMap<string, TrustedKey>,
): Promise<{ ok: true; models: CatalogModel[]; claims: CatalogClaims } | { ok: false; reason: string }> {
  const fail = (reason: string) => ({ ok: false as const, reason });
  if (typeof doc !== 'object' || doc === null) return fail('the catalog document is not a JSON object');
  // As JSON sees it: objects parsed in another realm (a worker, a VM context) are plain here too.
  const { claims, signature } = JSON.parse(JSON.stringify(doc)) as Partial<SignedCatalog>;
  if (typeof claims !== 'object' || claims === null || typeof signature !== 'string') return fail('the catalog document needs "claims" and "signature"');
  if (claims.v !== 1 || claims.type !== CATALOG_DOCUMENT_TYPE) return fail(`not a version 1 ${CATALOG_DOCUMENT_TYPE} document`);
  if (typeof claims.kid !== 'string' || typeof claims.issued_at !== 'string' || !ISO_UTC_MS.test(claims.issued_at)) return fail('the catalog claims "kid" and "issued_at" are missing or malformed');
  if (typeof claims.catalog_sha256 !== 'string' || !SHA256_HEX.test(claims.catalog_sha256) || !Array.isArray(claims.models)) return fail('the catalog claims "catalog_sha256" and "models" are missing or malformed');
  const key = keys.get(claims.kid);
  if (!key) return fail(`the catalog is signed by key ${claims.kid}, not a platform key`);
  let sig: Uint8Array;
  try {
    sig = base64ToBytes(signature);
  } catch {
    return fail('the catalog signature is not base64');
  }
  let bytes: Uint8Array;
  try {
    bytes = signingBytes(claims as CatalogClaims);
  } catch (err) {
    return fail(`the catalog claims cannot be canonicalised: ${(err as Error).message}`);
  }
  if (sig.length !== 64 || !(await ed25519Verify(sig, bytes, key.publicKey))) return fail('the catalog signature does not verify with the platform key');
  if (key.retiredAt && claims.issued_at >= key.retiredAt) return fail(`the catalog was issued after key ${claims.kid} was retired`);
  if ((await catalogSha256(claims.models)) !== claims.catalog_sha256) return fail('the catalog_sha256 claim is not the hash of the models');
  try {
    return { ok: true, models: parseCatalog({ version: 1, models: claims.models }, 'the signed catalog'), claims: claims as CatalogClaims };
  } catch (err) {
    return fail((err as Error).message);
  }
}
