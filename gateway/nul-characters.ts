/**
 * PostgreSQL text cannot hold U+0000: a NUL in any field the gateway stores or
 * looks up (a name, an email in a path, a prompt) made the query fail, and
 * the client got a 500 for its own bad input. Refused up front, by field.
 */
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

/** The first string holding a NUL, as a field path (`messages.0.content`), or null. Iterative: a body may nest 20,000 deep. */
function nulField(body: unknown): string | null {
  const stack: [unknown, string][] = [[body, '']];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path || '(body)';
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        if (k.includes('\u0000')) return path ? `${path}.(key)` : '(key)';
        stack.push([v, path ? `${path}.${k}` : k]);
      }
    }
  }
  return null;
}

export const refuseNulCharacters: RequestHandler = (req, _res, next) => {
  if (/%00/.test(req.originalUrl)) throw new ApiError(400, 'invalid_request', 'the URL holds a NUL character (%00), which no id, name or parameter may contain');
  const field = nulField(req.body);
  if (field) throw new ApiError(400, 'invalid_request', `${field}: text may not contain NUL characters (U+0000)`, field);
  next();
};
