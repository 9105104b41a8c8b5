/**
 * Prompts and outputs never sit in Temporal's history in the clear: every
 * payload the platform writes is sealed with AES-256-GCM under a named key
 * (the id travels in the payload's metadata, so keys rotate: new payloads use
 * the active key, old ones open with the key they name). The keys stay with
 * the platform (orchestrator, gateway, runner proxy); runners get plaintext of
 * their own task only, through the proxy.
 */
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import proto from '@temporalio/proto';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { REFUSED_PAYLOAD_FIELD } from '@trd/protocol/inference';
import { SettingsError } from './env.js';
import { payloadClassFor, type PayloadClass } from './payload-classes.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_META = 'encryption-key-id';
const CIPHER_META = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
/** Who may read the payload in Temporal's UI (platform/payload-classes.ts); bound into the ciphertext as GCM additional data. */
const CLASS_META = 'trd-payload-class';
const CLASS_PATTERN = /^[a-z0-9-]{1,32}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface PayloadKeys {
  /** New payloads are sealed with this one. */
  activeId: string;
  keys: ReadonlyMap<string, Buffer>;
  /**
   * Whether a payload that was never sealed is taken as is. Off: every writer of the platform seals,
   * so a plain payload came from someone who reached Temporal's frontend directly (a forged result).
   * On only to replay or read histories written before sealing (TRD_PAYLOAD_ACCEPT_UNSEALED=1).
   */
  acceptUnsealed?: boolean;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * TRD_PAYLOAD_KEYS is "id:base64key[,id:base64key…]" (32-byte keys), every
 * key this process can open; TRD_PAYLOAD_KEY_ID is the one it seals with,
 * required once more than one is listed. Rotation is two-phase across
 * replicas: (1) append the new key everywhere, still sealing with the old
 * (the new key is published: every replica can open it); (2) only then set
 * TRD_PAYLOAD_KEY_ID to it. Appending alone never changes what seals.
 */
export function payloadKeysFromEnv(env: Record<string, string | undefined>): PayloadKeys {
  const raw = env.TRD_PAYLOAD_KEYS?.trim();
  if (!raw) throw new SettingsError('TRD_PAYLOAD_KEYS is not set: give "id:base64key" (32 random bytes; `node -e "console.log(\'k1:\'+crypto.randomBytes(32).toString(\'base64\'))"` makes one)');
  const keys = new Map<string, Buffer>();
  let last = '';
  for (const entry of raw.split(',').map((e) => e.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID_PATTERN.test(id)) throw new SettingsError('TRD_PAYLOAD_KEYS: each entry is "id:base64key", the id 1-64 of A-Z a-z 0-9 . _ -');
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) throw new SettingsError(`TRD_PAYLOAD_KEYS: key "${id}" is ${key.length} bytes; AES-256 needs 32 (base64 of 32 random bytes)`);
    if (keys.has(id)) throw new SettingsError(`TRD_PAYLOAD_KEYS: key id "${id}" is given twice`);
    keys.set(id, key);
    last = id;
  }
  const activeId = env.TRD_PAYLOAD_KEY_ID?.trim() || (keys.size === 1 ? last : '');
  if (!activeId) {
    throw new SettingsError(
      `TRD_PAYLOAD_KEYS lists ${keys.size} keys: set TRD_PAYLOAD_KEY_ID to the one that seals (rotation: append the new key on every replica first, then make it TRD_PAYLOAD_KEY_ID; docs/operations.md)`,
    );
  }
  if (!keys.has(activeId)) throw new SettingsError(`TRD_PAYLOAD_KEY_ID "${activeId}" is not one of the ids in TRD_PAYLOAD_KEYS`);
  const unsealed = env.TRD_PAYLOAD_ACCEPT_UNSEALED?.trim() ?? '';
  if (!['', '0', '1'].includes(unsealed)) throw new SettingsError(`TRD_PAYLOAD_ACCEPT_UNSEALED is 1 (take payloads written before sealing) or 0 (the default), got ${JSON.stringify(unsealed)}`);
  return { activeId, keys, acceptUnsealed: unsealed === '1' };
}

export function newPayloadKey(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** The environment that gives a process these keys. */
export function payloadKeysEnv(keys: PayloadKeys): Record<string, string> {
  return {
    TRD_PAYLOAD_KEYS: [...keys.keys].map(([id, key]) => `${id}:${key.toString('base64')}`).join(','),
    TRD_PAYLOAD_KEY_ID: keys.activeId,
    ...(keys.acceptUnsealed ? { TRD_PAYLOAD_ACCEPT_UNSEALED: '1' } : {}),
  };
}

export class PayloadKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadKeyError';
  }
}

/** A payload that was never sealed (and is not one of Temporal's own markers). */
export class UnsealedPayloadError extends PayloadKeyError {}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && fromUtf8.decode(encoding) === ENCRYPTED_ENCODING;
}

function classAad(cls: string): Buffer {
  return Buffer.from(`${CLASS_META}:${cls}`);
}

/** The class a sealed payload's metadata names, or null (sealed without one: private). */
export function payloadClassOf(payload: Payload): string | null {
  const raw = payload.metadata?.[CLASS_META];
  return raw ? fromUtf8.decode(raw) : null;
}

/** Seals a payload; with a class, the class is named in the metadata and bound into the ciphertext. */
export function encryptPayload(keys: PayloadKeys, payload: Payload, cls?: PayloadClass): Payload {
  const key = keys.keys.get(keys.activeId)!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (cls) cipher.setAAD(classAad(cls));
  const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
  const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return {
    metadata: {
      encoding: utf8.encode(ENCRYPTED_ENCODING),
      [KEY_ID_META]: utf8.encode(keys.activeId),
      [CIPHER_META]: utf8.encode(CIPHER),
      ...(cls ? { [CLASS_META]: utf8.encode(cls) } : {}),
    },
    data: sealed,
  };
}

/**
 * Temporal's own plain payloads, which carry nothing a forger could use: the SDK's "no value", and the
 * detail the server itself writes when an activity is cancelled before any runner started it (a cancelled
 * queued job reads it; refusing it left such jobs stuck). Patch and local-activity markers are read by
 * the SDK's core and never reach the codec.
 */
const SERVER_CANCEL_DETAIL = '"ACTIVITY_ID_NOT_STARTED"';

function isSdkMarker(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  if (encoding === undefined || encoding === null) return false;
  const kind = fromUtf8.decode(encoding);
  if (kind === 'binary/null') return !payload.data?.length;
  return kind === 'json/plain' && Object.keys(payload.metadata!).length === 1 && fromUtf8.decode(payload.data ?? new Uint8Array()) === SERVER_CANCEL_DETAIL;
}

/** The original payload; one that was never sealed is refused unless `keys.acceptUnsealed` (older histories). */
export function decryptPayload(keys: PayloadKeys, payload: Payload): Payload {
  if (!isEncrypted(payload)) {
    if (keys.acceptUnsealed || isSdkMarker(payload)) return payload;
    throw new UnsealedPayloadError(
      'refusing a payload that was not sealed: every platform writer seals, so it did not come from the platform (histories from before sealing: TRD_PAYLOAD_ACCEPT_UNSEALED=1)',
    );
  }
  const id = payload.metadata?.[KEY_ID_META] ? fromUtf8.decode(payload.metadata[KEY_ID_META]) : '';
  const key = keys.keys.get(id);
  if (!key) throw new PayloadKeyError(`payload sealed with key "${id}", which this process does not have (TRD_PAYLOAD_KEYS)`);
  const data = payload.data ?? new Uint8Array();
  if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadKeyError('sealed payload is too short to be AES-256-GCM');
  const cls = payloadClassOf(payload);
  if (cls !== null && !CLASS_PATTERN.test(cls)) throw new PayloadKeyError(`sealed payload names a malformed class ${JSON.stringify(cls.slice(0, 40))}`);
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
  // Payloads sealed before classes carry none and were sealed without additional data.
  if (cls !== null) decipher.setAAD(classAad(cls));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new PayloadKeyError(`sealed payload does not open with key "${id}" (tampered with, its class relabelled, or a different key under that id)`);
  }
  return proto.temporal.api.common.v1.Payload.decode(plain);
}

/**
 * How a codec answers an unsealed payload it will not open. 'throw' (clients): the call fails.
 * 'placeholder' (the orchestrator's worker): the workflow reads `{ trd_refused_payload: reason }`
 * instead (none of the refused bytes), so a forged activity result ends that attempt as an invalid
 * result, and the job re-queues or fails with the reason. Thrown there, the error would fail the
 * workflow task on every retry, and the job would never end.
 */
export type RefusedPayloads = 'throw' | 'placeholder';

function refusedPlaceholder(reason: string): Payload {
  return { metadata: { encoding: utf8.encode('json/plain') }, data: utf8.encode(JSON.stringify({ [REFUSED_PAYLOAD_FIELD]: reason })) };
}

export function payloadCodec(keys: PayloadKeys, refused: RefusedPayloads = 'throw'): PayloadCodec {
  const open = (p: Payload): Payload => {
    try {
      return decryptPayload(keys, p);
    } catch (err) {
      if (refused === 'placeholder' && err instanceof UnsealedPayloadError) return refusedPlaceholder(err.message);
      throw err;
    }
  };
  return {
    // The SDK names the workflow a payload belongs to (the target workflow, or the one an activity runs for).
    encode: async (payloads, context?: SerializationContext) => {
      const cls = payloadClassFor(context?.workflowId);
      return payloads.map((p) => encryptPayload(keys, p, cls));
    },
    decode: async (payloads) => payloads.map(open),
  };
}

/** The data converter of every platform Temporal client and worker. */
export function platformDataConverter(keys: PayloadKeys, refused: RefusedPayloads = 'throw'): DataConverter {
  return { payloadCodecs: [payloadCodec(keys, refused)] };
}
