/**
 * Bearer secrets (customer API keys, runner tokens): 192 random bits, so a
 * plain SHA-256 is a safe lookup hash; only the hash is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ApiError } from './errors.js';

export function newToken(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The token of an `Authorization: Bearer <token>` header, or a 401 that says what was expected. */
export function bearerToken(header: string | undefined, what: string, example: string): string {
  const missing = `missing_${what.toLowerCase().replace(/\W+/g, '_')}`;
  if (!header) throw new ApiError(401, missing, `send your ${what} as "Authorization: Bearer ${example}..."`);
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ApiError(401, 'invalid_authorization', `the Authorization header must be "Bearer <${what}>"`);
  return match[1];
}
