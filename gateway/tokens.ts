/** Bearer credentials as the gateway reads them from a request. */
import { ApiError } from './errors.js';

export { hashToken, matchesSecretHash, newToken } from '../platform/tokens.js';

/** The token of an `Authorization: Bearer <token>` header, or a 401 that says what was expected. */
export function bearerToken(header: string | undefined, what: string, example: string): string {
  const missing = `missing_${what.toLowerCase().replace(/\W+/g, '_')}`;
  if (!header) throw new ApiError(401, missing, `send your ${what} as "Authorization: Bearer ${example}..."`);
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ApiError(401, 'invalid_authorization', `the Authorization header must be "Bearer <${what}>"`);
  return match[1];
}
