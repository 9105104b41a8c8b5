/**
 * Dashboard sign-in by e-mail: the owner asks for a link, the gateway mails a
 * one-time link over SMTP, and opening it signs the browser in. A link is
 * single use and expires; only its SHA-256 is stored; asking is rate-limited
 * per address and per client IP; the answer is the same whether or not the
 * address has an account. An address with no account gets one (it proved it
 * reads that mailbox), so a new GPU owner can approve `trd-worker login`
 * without ever handling an API key.
 */
import { Router } from 'express';
import { randomUUID } from 'node:crypto';
import type { Db } from '../platform/db.js';
import { sendMail } from '../platform/smtp.js';
import { ApiError } from './errors.js';
import { jsonBody } from './json-body.js';
import { openOwnerSession, ownerOverview } from './owner.js';
import { publicBase } from './public-url.js';
import { clientIp, ipAndCredentialLimit, rateLimited, RateLimiter } from './rate-limit.js';
import { EmailLinkBody, EmailSignInBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';
import { hashToken, newToken } from './tokens.js';

const normalized = (email: string) => email.trim().toLowerCase();

/**
 * The organization an address signs in to: the oldest it is a member of, or a new one it owns. Under
 * an advisory lock on the address, so two first links opened at once make one account.
 */
async function accountFor(db: Db, email: string): Promise<string> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`email-account:${email}`}))`;
    const member = await tx.orgMember.findFirst({ where: { email: { equals: email, mode: 'insensitive' } }, orderBy: { createdAt: 'asc' } });
    if (member) return member.customerId;
    const id = `cus_${randomUUID().replace(/-/g, '')}`;
    await tx.customer.create({ data: { id, name: email } });
    await tx.orgMember.create({ data: { id: `mem_${randomUUID().replace(/-/g, '')}`, customerId: id, email, role: 'owner' } });
    return id;
  });
}

export function emailSignInRouter(deps: { db: Db; settings: GatewaySettings }): Router {
  const { db, settings } = deps;
  const s = settings.emailSignIn;
  const router = Router();
  const addressOf = (req: { body?: { email?: unknown } }) => (typeof req.body?.email === 'string' ? hashToken(normalized(req.body.email)) : null);
  const limitLinks = rateLimited('e-mail sign-in', [
    { limiter: new RateLimiter(db, 'e-mail link:ip', s.perIp, s.windowMs), per: 'IP address', key: clientIp },
    { limiter: new RateLimiter(db, 'e-mail link:address', s.perAddress, s.windowMs), per: 'e-mail address', key: addressOf },
  ]);
  const limitSignIns = ipAndCredentialLimit(db, 'sign-in', settings.rateLimits);

  router.post('/v1/owner/email-links', limitLinks, async (req, res) => {
    const body = EmailLinkBody.parse(jsonBody(req));
    if (!s.smtp) throw new ApiError(503, 'email_sign_in_off', 'sign-in by e-mail is not set up on this gateway (TRD_SMTP_HOST): sign in with an API key');
    const email = normalized(body.email);
    const token = newToken('trd_el_');
    await db.emailSignIn.create({ data: { tokenHash: hashToken(token), email, expiresAt: new Date(Date.now() + s.linkTtlMs) } });
    const link = new URL(`${publicBase(req, settings.publicUrl)}/dashboard/`);
    link.searchParams.set('sign_in', token);
    if (body.next) link.searchParams.set('next', body.next);
    const minutes = Math.max(1, Math.round(s.linkTtlMs / 60_000));
    try {
      await sendMail(s.smtp, {
        to: email,
        subject: 'Your TRD Compute sign-in link',
        text: [
          'Open this link to sign in to your TRD Compute dashboard:',
          '',
          link.toString(),
          '',
          `It works once, within ${minutes} minute${minutes === 1 ? '' : 's'}.`,
          'If you did not ask for it, ignore this mail: nobody can sign in without the link.',
        ].join('\n'),
      });
    } catch (err) {
      // The link never reached anyone: it must not stay usable.
      await db.emailSignIn.delete({ where: { tokenHash: hashToken(token) } }).catch(() => {});
      console.error('gateway: sign-in mail failed:', err);
      throw new ApiError(503, 'email_not_sent', 'the sign-in mail could not be sent just now; try again in a minute, or sign in with an API key');
    }
    res.status(202).json({ sent: true, email, expires_in: Math.floor(s.linkTtlMs / 1000) });
  });

  // Opening the link: the page posts its token (a GET would let mail scanners that prefetch links use it up).
  router.post('/v1/owner/session/email', limitSignIns, async (req, res) => {
    const body = EmailSignInBody.parse(jsonBody(req));
    const tokenHash = hashToken(body.token);
    // Used in one conditional update: two tabs opening the link at once sign in once.
    const used = await db.emailSignIn.updateMany({ where: { tokenHash, usedAt: null, expiresAt: { gt: new Date() } }, data: { usedAt: new Date() } });
    if (used.count === 0) {
      const row = await db.emailSignIn.findUnique({ where: { tokenHash } });
      const why = !row ? 'this sign-in link is not valid' : row.usedAt ? 'this sign-in link was used already' : 'this sign-in link expired';
      throw new ApiError(401, 'invalid_sign_in_link', `${why}: ask for a new one`, 'token');
    }
    const { email } = await db.emailSignIn.findUniqueOrThrow({ where: { tokenHash } });
    const customerId = await accountFor(db, email);
    await openOwnerSession(db, settings, req, res, customerId);
    res.status(201).json(await ownerOverview(db, customerId, settings.dispatch, settings, settings.runnerVersions));
  });

  return router;
}
