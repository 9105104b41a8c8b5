/** Publishes the receipt-verification keys: anyone can check a receipt with these and nothing else. */
import { Router } from 'express';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';

export function keysRouter(db: Db): Router {
  const router = Router();

  router.get('/keys', async (_req, res) => {
    const keys = await db.signingKey.findMany({ orderBy: { createdAt: 'asc' } });
    res.json({
      keys: keys.map((k) => ({
        kid: k.kid,
        alg: 'Ed25519',
        public_key_pem: k.publicKeyPem,
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
    res.type('application/x-pem-file').send(key.publicKeyPem);
  });

  return router;
}
