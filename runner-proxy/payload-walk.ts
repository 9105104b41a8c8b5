/**
 * Seals or opens every Temporal Payload inside a decoded protobuf message,
 * wherever it sits (input, result, heartbeat details, a failure's details
 * and its causes, headers), so no field is missed when the API grows one.
 */
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { GrpcError, GrpcStatus } from './grpc-wire.js';

const PayloadType = proto.temporal.api.common.v1.Payload;
/** @temporalio/proto's types are reflected: decoded messages are instances of the type's ctor. */
const PayloadClass = (PayloadType as unknown as { ctor: new () => object }).ctor;
/** Failures nest as causes; a runner could nest them without end. */
const MAX_DEPTH = 64;

export function mapPayloads(message: object, fn: (p: Payload) => Payload): void {
  visit(message, 0);

  function visit(node: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new GrpcError(GrpcStatus.INVALID_ARGUMENT, `message nests deeper than ${MAX_DEPTH} levels`);
    if (node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) return;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        if (node[i] instanceof PayloadClass) node[i] = PayloadType.create(fn(node[i]));
        else visit(node[i], depth + 1);
      }
      return;
    }
    for (const key of Object.keys(node)) {
      const value = (node as Record<string, unknown>)[key];
      if (value instanceof PayloadClass) (node as Record<string, unknown>)[key] = PayloadType.create(fn(value));
      else visit(value, depth + 1);
    }
  }
}
