/**
 * Request bodies are JSON. express.json() leaves a body of any other content
 * type unparsed, and the routes read a missing body as `{}`: for settings that
 * is "everything back to defaults", for a job a misleading "model is
 * required". A body that is there but not JSON is refused by name instead.
 */
import type { Request, RequestHandler } from 'express';
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

/**
 * The JSON body of a route that takes one. The document says each such body
 * is required, and so does the route: a request with none is refused rather
 * than read as `{}` (send `{}` to mean "nothing").
 */
export function jsonBody(req: Request): unknown {
  if (req.body === undefined) throw new ApiError(400, 'missing_body', 'this request needs a JSON body (send at least {} with "Content-Type: application/json")');
  return req.body;
}
