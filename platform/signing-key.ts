/**
 * The receipt-signing key. Operators paste PEMs into env files and secret
 * stores that add a BOM, wrap them in quotes or turn newlines into "\n"; all
 * of that is undone here, and anything that still is not an Ed25519 private
 * key is refused with a message that says so.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { keyIdFor, publicKeyToPem } from '@trd/protocol';
import * as ed from '@noble/ed25519';
import { envInt } from './env.js';

export interface SigningKey {
  kid: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  publicKeyPem: string;
}

export function normalizePem(text: string): string {
  let pem = text.replace(/^\uFEFF/, '').trim();
  if ((pem.startsWith('"') && pem.endsWith('"')) || (pem.startsWith("'") && pem.endsWith("'"))) pem = pem.slice(1, -1).trim();
  return pem.replace(/\\r/g, '').replace(/\\n/g, '\n').replace(/\r\n/g, '\n');
}

export async function signingKeyFromPem(text: string): Promise<SigningKey> {
  const pem = normalizePem(text);
  if (!pem.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new Error('receipt signing key is not a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); make one with `openssl genpkey -algorithm ed25519`');
  }
  let key;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`receipt signing key PEM could not be parsed: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`receipt signing key must be Ed25519, got ${key.asymmetricKeyType}`);
  }
  const d = key.export({ format: 'jwk' }).d;
  if (!d) throw new Error('receipt signing key has no private part');
  const secretKey = new Uint8Array(Buffer.from(d, 'base64url'));
  const publicKey = await ed.getPublicKeyAsync(secretKey);
  return { kid: await keyIdFor(publicKey), secretKey, publicKey, publicKeyPem: publicKeyToPem(publicKey) };
}

/**
 * From TRD_RECEIPT_SIGNING_KEY (the PEM itself) or TRD_RECEIPT_SIGNING_KEY_FILE (a path): one or
 * several PEM blocks, oldest first. During a rotation an orchestrator holds the old key and the new
 * one; the shared lifecycle (orchestrator/signing-keys.ts) says which signs.
 */
export async function loadSigningKeys(env: Record<string, string | undefined>): Promise<SigningKey[]> {
  const text = await signingKeyText(env);
  const blocks = normalizePem(text).match(/-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/g);
  const keys = await Promise.all((blocks ?? [text]).map(signingKeyFromPem));
  const kids = keys.map((k) => k.kid);
  const twice = kids.find((k, i) => kids.indexOf(k) !== i);
  if (twice) throw new Error(`receipt signing key ${twice} is given twice`);
  return keys;
}

/** The signing key lifecycle's bounds (orchestrator/signing-keys.ts). */
export function signingKeyLifecycleSettings(env: Record<string, string | undefined>): { publishMs: number; refreshMs: number } {
  const refreshMs = envInt(env, 'TRD_SIGNING_KEY_REFRESH_MS');
  // Long enough for every runner and verifier to fetch the new key (runners refresh every minute by default).
  const publishMs = envInt(env, 'TRD_SIGNING_KEY_PUBLISH_MS');
  return { publishMs, refreshMs };
}

async function signingKeyText(env: Record<string, string | undefined>): Promise<string> {
  if (env.TRD_RECEIPT_SIGNING_KEY) return env.TRD_RECEIPT_SIGNING_KEY;
  const file = env.TRD_RECEIPT_SIGNING_KEY_FILE;
  if (!file) throw new Error('set TRD_RECEIPT_SIGNING_KEY (a PEM) or TRD_RECEIPT_SIGNING_KEY_FILE (its path)');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read TRD_RECEIPT_SIGNING_KEY_FILE ${file}: ${(err as Error).message}`);
  }
  return text;
}

export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}
