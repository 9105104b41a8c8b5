/**
 * Secrets the platform must present to others and so cannot keep as hashes (a peer's federation
 * credential): sealed at rest with the payload keys (AES-256-GCM, platform/payload-encryption.ts),
 * so a database dump alone does not give them away, and a key rotation keeps old ones readable.
 */
import { decryptPayload, encryptPayload, type PayloadKeys } from './payload-encryption.js';
import proto from '@temporalio/proto';

const Payload = proto.temporal.api.common.v1.Payload;

export function sealSecret(keys: PayloadKeys, secret: string): Uint8Array<ArrayBuffer> {
  const sealed = encryptPayload(keys, { metadata: {}, data: new TextEncoder().encode(secret) });
  return new Uint8Array(Payload.encode(sealed).finish());
}

export function openSecret(keys: PayloadKeys, sealed: Uint8Array): string {
  return new TextDecoder().decode(decryptPayload(keys, Payload.decode(sealed)).data ?? new Uint8Array());
}
