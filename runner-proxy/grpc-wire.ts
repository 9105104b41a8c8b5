/**
 * The little of gRPC's wire format the proxy needs: a unary message is one
 * length-prefixed frame (1 byte "compressed" flag, 4 bytes big-endian
 * length, the protobuf bytes), and a status travels in trailers.
 */
import { gunzipSync } from 'node:zlib';
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNIMPLEMENTED: 12,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A call refused by the proxy, with the status and words the runner's SDK reports. */
export class GrpcError extends Error {
  constructor(
    readonly code: GrpcStatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }
}

/**
 * The one message of a unary request body, decompressed (Temporal's Rust
 * client gzips its requests). Refuses a body that is not exactly one frame,
 * an encoding other than gzip, and a message over `maxBytes` once
 * decompressed (so a small gzip bomb is refused too).
 */
export function unframe(body: Buffer, maxBytes: number, encoding?: string): Buffer {
  if (body.length < 5) throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, 'request is not a gRPC message frame');
  const length = body.readUInt32BE(1);
  if (length > maxBytes) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes is over the limit of ${maxBytes}`);
  if (body.length !== 5 + length) throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, 'request body is not exactly one gRPC message');
  const message = body.subarray(5);
  if (body[0] === 0) return message;
  if (body[0] !== 1) throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `unknown gRPC frame flag ${body[0]}`);
  if (encoding !== 'gzip') throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `compressed with ${JSON.stringify(encoding ?? 'nothing named')}; only gzip is accepted`);
  try {
    return gunzipSync(message, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `message is over the limit of ${maxBytes} bytes once decompressed`);
    }
    throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `message is not valid gzip: ${(err as Error).message}`);
  }
}

export function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** grpc-message: printable ASCII as is, except "%", and everything else percent-encoded as UTF-8 (the gRPC HTTP/2 spec). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
