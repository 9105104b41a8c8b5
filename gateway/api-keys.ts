/**
 * Customer API keys. Keys are 192 random bits, so a plain SHA-256 is a safe
 * lookup hash; only the hash and a short prefix are stored.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';

const KEY_PREFIX = 'trd_sk_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function createCustomer(db: Db, name: string): Promise<string> {
  const id = `cus_${randomUUID().replace(/-/g, '')}`;
  await db.customer.create({ data: { id, name } });
  return id;
}

/** Returns the key in the clear: the only time it exists outside the caller. */
export async function createApiKey(db: Db, customerId: string, name: string): Promise<string> {
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
  await db.apiKey.create({
    data: { id: `key_${randomUUID().replace(/-/g, '')}`, customerId, keyHash: hashApiKey(key), prefix: key.slice(0, 12), name },
  });
  return key;
}

export async function findCustomerByApiKey(db: Db, key: string): Promise<string | null> {
  const row = await db.apiKey.findUnique({ where: { keyHash: hashApiKey(key) }, select: { customerId: true, revokedAt: true } });
  return row && !row.revokedAt ? row.customerId : null;
}

/** Sets `res.locals.customerId`, or answers 401. */
export function requireApiKey(db: Db): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) throw new ApiError(401, 'missing_api_key', 'send your API key as "Authorization: Bearer trd_sk_..."');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'invalid_authorization', 'the Authorization header must be "Bearer <api key>"');
    const customerId = await findCustomerByApiKey(db, match[1]);
    if (!customerId) throw new ApiError(401, 'invalid_api_key', 'the API key is not valid (unknown or revoked)');
    res.locals.customerId = customerId;
    next();
  };
}
