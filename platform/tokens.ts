/**
 * Bearer secrets (customer API keys, runner tokens): 192 random bits, so a
 * plain SHA-256 is a safe lookup hash; only the hash is stored. Shared by
 * every process that checks one (the gateway, the runner endpoint).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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
