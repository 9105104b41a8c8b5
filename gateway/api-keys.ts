/** Customer API keys: only the hash (gateway/tokens.ts) and a short prefix are stored. */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';
import { bearerToken, hashToken, newToken } from './tokens.js';

const KEY_PREFIX = 'trd_sk_';

export async function createCustomer(db: Db, name: string): Promise<string> {
  const id = `cus_${randomUUID().replace(/-/g, '')}`;
  await db.customer.create({ data: { id, name } });
  return id;
}

/** Returns the key in the clear: the only time it exists outside the caller. */
export async function issueApiKey(db: Db, customerId: string, name: string, rateLimitPerMinute: number | null = null): Promise<{ id: string; key: string; prefix: string }> {
  const key = newToken(KEY_PREFIX);
  const row = await db.apiKey.create({
    data: { id: `key_${randomUUID().replace(/-/g, '')}`, customerId, keyHash: hashToken(key), prefix: key.slice(0, 12), name, rateLimitPerMinute },
  });
  return { id: row.id, key, prefix: row.prefix };
}

export async function createApiKey(db: Db, customerId: string, name: string): Promise<string> {
  return (await issueApiKey(db, customerId, name)).key;
}

/** The organization and key behind a key, or null when it is unknown or revoked. */
export async function findApiKey(db: Db, key: string): Promise<{ customerId: string; apiKeyId: string } | null> {
  const row = await db.apiKey.findUnique({ where: { keyHash: hashToken(key) }, select: { id: true, customerId: true, revokedAt: true } });
  return row && !row.revokedAt ? { customerId: row.customerId, apiKeyId: row.id } : null;
}

/** Sets `res.locals.customerId` (the organization) and `res.locals.apiKeyId`, or answers 401. */
export function requireApiKey(db: Db): RequestHandler {
  return async (req, res, next) => {
    const key = bearerToken(req.get('authorization'), 'API key', KEY_PREFIX);
    const found = await findApiKey(db, key);
    if (!found) throw new ApiError(401, 'invalid_api_key', 'the API key is not valid (unknown or revoked)');
    res.locals.customerId = found.customerId;
    res.locals.apiKeyId = found.apiKeyId;
    next();
  };
}
