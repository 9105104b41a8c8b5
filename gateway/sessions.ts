/**
 * Sessions: the receipt chain (public: receipts hold hashes, not content) and
 * the certificate (the owning customer's).
 */
import { Router, type Request, type RequestHandler } from 'express';
import { SESSION_ID_PATTERN } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { sessionChain } from '../receipts/chain-document.js';
import { certificatePdf, sessionStats } from '../receipts/certificate.js';
import { ApiError } from './errors.js';
import { publicBase } from './public-url.js';

function sessionIdParam(req: Request): string {
  const id = req.params.id as string;
  if (!SESSION_ID_PATTERN.test(id)) throw new ApiError(400, 'invalid_request', 'id: not a session id (letters, digits, ".", "_", "-"; up to 128)', 'id');
  return id;
}

/** The chain, for anyone with the session id; the verify page may be opened from anywhere, even a file. */
export function publicSessionsRouter(db: Db): Router {
  const router = Router();
  router.get('/v1/sessions/:id/receipts', async (req, res) => {
    const chain = await sessionChain(db, sessionIdParam(req));
    if (!chain) throw new ApiError(404, 'session_not_found', `no session ${req.params.id}`, 'id');
    res.set('access-control-allow-origin', '*').json(chain);
  });
  return router;
}

export function sessionCertificateRouter(deps: { db: Db; publicUrl: string | null; requireApiKey: RequestHandler }): Router {
  const router = Router();
  router.get('/v1/sessions/:id/certificate.pdf', deps.requireApiKey, async (req, res) => {
    const id = sessionIdParam(req);
    const session = await deps.db.jobSession.findUnique({ where: { id }, select: { customerId: true } });
    // Another account's session looks like no session at all.
    if (!session || session.customerId !== res.locals.customerId) throw new ApiError(404, 'session_not_found', `no session ${id} in this account`, 'id');
    const stats = (await sessionStats(deps.db, id))!;
    const base = publicBase(req, deps.publicUrl);
    const pdf = await certificatePdf(stats, `${base}/verify/?session=${encodeURIComponent(id)}`, new Date());
    res.type('application/pdf').set('content-disposition', `inline; filename="trd-session-${id}.pdf"`).send(pdf);
  });
  return router;
}
