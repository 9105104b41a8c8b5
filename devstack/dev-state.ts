/**
 * What `npm run dev` (devstack/up.ts) and `npm run dev -- --cluster`
 * (devstack/up-cluster.ts) keep in their state folder across starts: the
 * receipt-signing key, the payload keys, the local customer's API key. One
 * place, so the two dev stacks cannot drift apart.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createApiKey, createCustomer, findApiKey } from '../gateway/api-keys.js';
import { createDb } from '../platform/db.js';
import { newPayloadKey, payloadKeysFromEnv, type PayloadKeys } from '../platform/payload-encryption.js';
import { generateSigningKeyPem } from '../platform/signing-key.js';

export interface DevKeys {
  /** The receipt-signing key's PEM file (made once, 0600). */
  signingKeyFile: string;
  /** TRD_PAYLOAD_KEYS and TRD_PAYLOAD_KEY_ID for every platform process. */
  payloadKeysEnv: { TRD_PAYLOAD_KEYS: string; TRD_PAYLOAD_KEY_ID: string };
  payloadKeys: PayloadKeys;
}

/**
 * The keys in `stateDir`, made on first start. The payload-key file has one
 * `id:base64` line per key; a line appended rotates: the newest seals at once,
 * since one machine restarts every process together (replicas of a deployment
 * rotate in two phases, docs/operations.md).
 */
export async function devKeys(stateDir: string): Promise<DevKeys> {
  const signingKeyFile = `${stateDir}/receipt-signing-key.pem`;
  if (!existsSync(signingKeyFile)) await writeFile(signingKeyFile, generateSigningKeyPem(), { mode: 0o600 });
  const payloadKeyFile = `${stateDir}/payload-keys`;
  if (!existsSync(payloadKeyFile)) await writeFile(payloadKeyFile, `${newPayloadKey('dev-1')}\n`, { mode: 0o600 });
  const lines = (await readFile(payloadKeyFile, 'utf8')).trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const payloadKeysEnv = { TRD_PAYLOAD_KEYS: lines.join(','), TRD_PAYLOAD_KEY_ID: lines.at(-1)?.split(':')[0] ?? '' };
  return { signingKeyFile, payloadKeysEnv, payloadKeys: payloadKeysFromEnv(payloadKeysEnv) };
}

/** One API key for the local customer, kept across restarts in a 0600 file. */
export async function devApiKey(databaseUrl: string, file: string): Promise<string> {
  const db = createDb(databaseUrl);
  try {
    if (existsSync(file)) {
      const key = (await readFile(file, 'utf8')).trim();
      if (await findApiKey(db, key)) return key;
    }
    const key = await createApiKey(db, await createCustomer(db, 'local developer'), 'dev stack');
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return key;
  } finally {
    await db.$disconnect();
  }
}
