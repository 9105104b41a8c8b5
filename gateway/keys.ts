/** Publishes the receipt-verification keys: anyone can check a receipt with these and nothing else. */
import { Router } from 'express';
import type { Db } from '../platform/db.js';
import { publishedKey } from '../receipts/chain-document.js';
import { ApiError } from './errors.js';

export function keysRouter(db: Db): Router {
  const router = Router();

  // Receipts issued in [valid_from, valid_until) are the key's; valid_until null is the key in use (or,
  // when valid_from is ahead, the one published to take over then: fetch it before it signs).
  router.get('/keys', async (_req, res) => {
    const keys = await db.signingKey.findMany({ orderBy: { activatesAt: 'asc' } });
    res.set('access-control-allow-origin', '*').json({
      keys: keys.map((k) => ({
        ...publishedKey(k),
        alg: 'Ed25519',
        url: `/keys/${k.kid}.public.pem`,
        created_at: k.createdAt.toISOString(),
      })),
    });
  });

  router.get('/keys/:file', async (req, res) => {
    const match = /^([a-z0-9-]{1,64})\.public\.pem$/.exec(req.params.file);
    if (!match) throw new ApiError(404, 'key_not_found', 'key files are named <kid>.public.pem (GET /keys lists them)');
    const key = await db.signingKey.findUnique({ where: { kid: match[1] } });
    if (!key) throw new ApiError(404, 'key_not_found', `no key ${match[1]}`);
    res.set('access-control-allow-origin', '*').type('application/x-pem-file').send(key.publicKeyPem);
  });

  return router;
}
