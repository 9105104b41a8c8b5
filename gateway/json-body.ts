/**
 * Request bodies are JSON. express.json() leaves a body of any other content
 * type unparsed, and the routes read a missing body as `{}`: for settings that
 * is "everything back to defaults", for a job a misleading "model is
 * required". A body that is there but not JSON is refused by name instead.
 */
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

/** Routes that take another format: runners push NDJSON text to a stream. */
const NOT_JSON = /^\/v1\/jobs\/[^/]+\/stream$/;

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

export const refuseNonJsonBody: RequestHandler = (req, _res, next) => {
  if (req.body === undefined && hasBody(req.headers) && !NOT_JSON.test(req.path)) {
    const type = req.get('content-type');
    throw new ApiError(415, 'unsupported_media_type', `send the request body as JSON with "Content-Type: application/json"${type ? ` (this one is ${JSON.stringify(type.slice(0, 100))})` : ' (this one has no Content-Type)'}`);
  }
  next();
};
