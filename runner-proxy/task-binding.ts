/**
 * Which runner a task was handed to, carried by the task token itself: the
 * endpoint gives the runner not Temporal's token but a sealed binding of
 * (runner's token hash, expiry, Temporal's token) under a key every replica
 * derives from the shared payload keys. Any replica can then check a
 * heartbeat, completion or failure without having seen the poll, and the
 * runner learns nothing of Temporal's token (workflow and run ids inside).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { PayloadKeys } from '../platform/payload-encryption.js';

const MAGIC = Buffer.from('trdT1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const OWNER_BYTES = 32;

const derived = new WeakMap<Buffer, Buffer>();
/** A key of its own for bindings, so a binding can never be taken for a sealed payload or the reverse. */
function bindingKey(payloadKey: Buffer): Buffer {
  let key = derived.get(payloadKey);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', payloadKey, Buffer.alloc(0), 'trd runner-endpoint task binding', 32));
    derived.set(payloadKey, key);
  }
  return key;
}

/** The token handed to the runner in place of Temporal's `taskToken`. */
export function sealTaskToken(keys: PayloadKeys, ownerHash: string, taskToken: Uint8Array, expiresAtMs: number): Buffer {
  const id = Buffer.from(keys.activeId);
  const header = Buffer.concat([MAGIC, Buffer.from([id.length]), id]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', bindingKey(keys.keys.get(keys.activeId)!), iv);
  cipher.setAAD(header);
  const expiry = Buffer.alloc(8);
  expiry.writeBigUInt64BE(BigInt(expiresAtMs));
  const plain = Buffer.concat([Buffer.from(ownerHash, 'hex'), expiry, taskToken]);
  return Buffer.concat([header, iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Temporal's task token, when `sealed` is a binding of this runner's that has not expired; otherwise why not. */
export function openTaskToken(keys: PayloadKeys, ownerHash: string, sealed: Uint8Array, nowMs: number): { taskToken: Buffer } | { problem: string } {
  const notOurs = { problem: 'that task was not handed to this runner' };
  const b = Buffer.from(sealed);
  if (b.length < MAGIC.length + 1 || !b.subarray(0, MAGIC.length).equals(MAGIC)) return notOurs;
  const idLen = b[MAGIC.length];
  const headerLen = MAGIC.length + 1 + idLen;
  if (b.length < headerLen + IV_BYTES + OWNER_BYTES + 8 + TAG_BYTES) return notOurs;
  const key = keys.keys.get(b.subarray(MAGIC.length + 1, headerLen).toString());
  if (!key) return notOurs;
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', bindingKey(key), b.subarray(headerLen, headerLen + IV_BYTES));
    decipher.setAAD(b.subarray(0, headerLen));
    decipher.setAuthTag(b.subarray(b.length - TAG_BYTES));
    plain = Buffer.concat([decipher.update(b.subarray(headerLen + IV_BYTES, b.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return notOurs;
  }
  if (!plain.subarray(0, OWNER_BYTES).equals(Buffer.from(ownerHash, 'hex'))) return notOurs;
  if (Number(plain.readBigUInt64BE(OWNER_BYTES)) <= nowMs) return { problem: 'that task was handed out too long ago (TRD_RUNNER_ENDPOINT_TASK_TTL_MS)' };
  return { taskToken: plain.subarray(OWNER_BYTES + 8) };
}
