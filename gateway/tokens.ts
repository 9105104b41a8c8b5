/**
 * Bearer secrets (customer API keys, runner tokens): 192 random bits, so a
 * plain SHA-256 is a safe lookup hash; only the hash is stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

export function newToken(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Whether a presented secret is the one known by its SHA-256 (raw bytes), in
 * time that does not depend on where they differ: digests have equal length
 * (timingSafeEqual needs that), so not even the secret's length shows. Stored
 * secrets are looked up by their hash instead: an index lookup on SHA-256
 * output tells a guesser nothing about the secret.
 */
export function matchesSecretHash(presented: string, expectedSha256: Buffer): boolean {
  const digest = createHash('sha256').update(presented).digest();
  return expectedSha256.length === digest.length && timingSafeEqual(digest, expectedSha256);
}

/** The token of an `Authorization: Bearer <token>` header, or a 401 that says what was expected. */
export function bearerToken(header: string | undefined, what: string, example: string): string {
  const missing = `missing_${what.toLowerCase().replace(/\W+/g, '_')}`;
  if (!header) throw new ApiError(401, missing, `send your ${what} as "Authorization: Bearer ${example}..."`);
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ApiError(401, 'invalid_authorization', `the Authorization header must be "Bearer <${what}>"`);
  return match[1];
}
