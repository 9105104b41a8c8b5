/**
 * `trd-worker login`, the device-code way (as `gh auth login` does it): the
 * CLI asks for a code pair, describing its machine; the owner opens the link it
 * prints (the dashboard's approval page, signed in) or posts the code with
 * their API key, and approves or denies it; the CLI's next poll gets the
 * runner's id and token once, or the refusal. Only hashes of the device code
 * and the token are stored.
 */
import { Router, type RequestHandler } from 'express';
import { randomBytes, randomInt } from 'node:crypto';
import type { Db } from '../platform/db.js';
import { jsonBody } from './json-body.js';
import { ApiError } from './errors.js';
import { publicBase } from './public-url.js';
import { createRunnerToken } from './runners.js';
import { requireOwnerSession } from './owner.js';
import { ApproveDeviceCodeBody, DeviceCodeBody, DeviceTokenBody, UserCodeParam } from './schemas.js';
import type { GatewaySettings } from './settings.js';
import { ipAndCredentialLimit } from './rate-limit.js';
import { hashToken } from './tokens.js';
import { FleetRefusal, lockMemberForLogin } from '../economy/fleets.js';

/** No 0/O or 1/I: the user types it. */
const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function newUserCode(): string {
  const pick = () => Array.from({ length: 4 }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');
  return `${pick()}-${pick()}`;
}

/** The dashboard page the CLI points to; `?code=` fills the code in. */
export const APPROVAL_PAGE = '/dashboard/device';

function codeParam(raw: unknown): string {
  const parsed = UserCodeParam.safeParse(raw);
  if (!parsed.success) throw new ApiError(400, 'invalid_request', 'code: looks like ABCD-EFGH', 'code');
  return parsed.data.toUpperCase();
}

type Decision = 'approved' | 'denied';

/**
 * Settles a pending code for an owner, in one conditional update: two approvals at once (two tabs, a
 * page and a curl) settle it once, and the loser is told it was settled already.
 */
async function decide(db: Db, rawUserCode: string, ownerId: string, decision: Decision): Promise<{ runner_id: string | null }> {
  const userCode = rawUserCode.toUpperCase();
  if (decision === 'approved') await checkFleetLogin(db, userCode, ownerId);
  const runnerId = decision === 'approved' ? `runner-${randomBytes(6).toString('hex')}` : null;
  const settled = await db.runnerDeviceCode.updateMany({
    where: { userCode, status: 'pending', expiresAt: { gte: new Date() } },
    data: { status: decision, ownerId, runnerId },
  });
  if (settled.count === 1) return { runner_id: runnerId };
  const code = await db.runnerDeviceCode.findUnique({ where: { userCode } });
  if (!code || (code.status === 'pending' && code.expiresAt < new Date())) throw new ApiError(404, 'code_not_found', 'no such code, or it expired: run `trd-worker login` again', 'user_code');
  throw new ApiError(409, 'code_used', `this code was already ${code.status === 'denied' ? 'denied' : 'approved'}`, 'user_code');
}

/** A login into a fleet is approved by one of its members, with room under their runner limit (checked again, locked, at the claim). */
async function checkFleetLogin(db: Db, userCode: string, ownerId: string): Promise<void> {
  const code = await db.runnerDeviceCode.findUnique({ where: { userCode }, select: { fleetId: true, status: true } });
  if (!code?.fleetId || code.status !== 'pending') return;
  await db.$transaction((tx) => lockMemberForLogin(tx, code.fleetId!, ownerId)).catch(fleetError);
}

function fleetError(err: unknown): never {
  if (err instanceof FleetRefusal) throw new ApiError(err.code === 'runner_limit' ? 409 : 403, err.code, err.message);
  throw err;
}

export function runnerLoginRouter(deps: { db: Db; settings: GatewaySettings; requireApiKey: RequestHandler }): Router {
  const { db, settings } = deps;
  const router = Router();
  const limits = settings.rateLimits;
  // The CLI polls for its token every pollIntervalMs: polling at that pace never meets the limit.
  const pollsPerWindow = 2 * Math.ceil(limits.windowMs / settings.login.pollIntervalMs);
  const deviceCodeOf = (req: { body?: { device_code?: unknown } }) => (typeof req.body?.device_code === 'string' ? hashToken(req.body.device_code) : null);
  const limitCodes = ipAndCredentialLimit(deps.db, 'login', limits);
  const limitPolls = ipAndCredentialLimit(deps.db, 'login poll', limits, deviceCodeOf, { perIp: Math.max(limits.perIp, pollsPerWindow), perCredential: Math.max(limits.perCredential, pollsPerWindow) });
  // Per API key too: one account guessing user codes from many addresses is still one account.
  const limitApprovals = ipAndCredentialLimit(deps.db, 'approval', limits, (_req, res) => res.locals.apiKeyId ?? null);
  // The approval page's calls count against the same per-IP limit, and per signed-in account.
  const limitPageCalls = ipAndCredentialLimit(deps.db, 'approval', limits, (_req, res) => `account:${res.locals.customerId}`);
  const requireSession = requireOwnerSession(db);

  router.post('/v1/runners/device-codes', limitCodes, async (req, res) => {
    const body = DeviceCodeBody.parse(jsonBody(req));
    if (body.fleet && !(await db.fleet.findUnique({ where: { id: body.fleet } }))) throw new ApiError(404, 'fleet_not_found', `no fleet ${body.fleet}`, 'fleet');
    const deviceCode = randomBytes(32).toString('base64url');
    const userCode = newUserCode();
    await db.runnerDeviceCode.create({
      data: {
        deviceCodeHash: hashToken(deviceCode),
        userCode,
        email: body.email,
        hostname: body.machine?.hostname,
        gpu: body.machine?.gpu,
        runnerVersion: body.machine?.runner_version,
        fleetId: body.fleet,
        status: 'pending',
        expiresAt: new Date(Date.now() + settings.login.codeTtlMs),
      },
    });
    const base = publicBase(req, settings.publicUrl);
    res.status(201).json({
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: `${base}${APPROVAL_PAGE}`,
      // RFC 8628's link with the code in it: the page opens with the code filled in.
      verification_uri_complete: `${base}${APPROVAL_PAGE}?code=${userCode}`,
      expires_in: Math.floor(settings.login.codeTtlMs / 1000),
      interval_ms: settings.login.pollIntervalMs,
    });
  });

  // The owner, signed in with their API key, approves the code the CLI printed (scripts, headless setups).
  router.post('/v1/runners/device-codes/approve', deps.requireApiKey, limitApprovals, async (req, res) => {
    const body = ApproveDeviceCodeBody.parse(jsonBody(req));
    res.json({ ...(await decide(db, body.user_code, res.locals.customerId, 'approved')), approved: true });
  });
  // The address older CLIs print: opened in a browser, it leads to the approval page.
  router.get('/v1/runners/device-codes/approve', (req, res) => {
    const code = typeof req.query.code === 'string' && UserCodeParam.safeParse(req.query.code).success ? `?code=${req.query.code.toUpperCase()}` : '';
    res.redirect(302, `${APPROVAL_PAGE}${code}`);
  });

  // The approval page (signed in to the dashboard): what machine asks, then approve or deny.
  router.get('/v1/owner/device-codes/:code', requireSession, limitPageCalls, async (req, res) => {
    const userCode = codeParam(req.params.code);
    const code = await db.runnerDeviceCode.findUnique({ where: { userCode } });
    const expired = code?.status === 'pending' && code.expiresAt < new Date();
    if (!code || expired) throw new ApiError(404, 'code_not_found', 'no such code, or it expired: run `trd-worker login` again', 'code');
    // Settled codes show only that: the machine of someone else's settled login is none of this account's business.
    if (code.status !== 'pending' && code.ownerId !== res.locals.customerId) throw new ApiError(409, 'code_used', 'this code was already used', 'code');
    res.json({
      user_code: code.userCode,
      status: code.status === 'used' ? 'approved' : code.status,
      email: code.email,
      machine: code.hostname ? { hostname: code.hostname, gpu: code.gpu, runner_version: code.runnerVersion } : null,
      requested_at: code.createdAt.toISOString(),
      expires_at: code.expiresAt.toISOString(),
      runner_id: code.ownerId === res.locals.customerId ? code.runnerId : null,
    });
  });
  for (const [action, decision] of [['approve', 'approved'], ['deny', 'denied']] as const) {
    router.post(`/v1/owner/device-codes/:code/${action}`, requireSession, limitPageCalls, async (req, res) => {
      res.json({ ...(await decide(db, codeParam(req.params.code), res.locals.customerId, decision)), status: decision });
    });
  }

  // The CLI polls with its device code: pending, then the token once.
  router.post('/v1/runners/device-token', limitPolls, async (req, res) => {
    const body = DeviceTokenBody.parse(jsonBody(req));
    const code = await db.runnerDeviceCode.findUnique({ where: { deviceCodeHash: hashToken(body.device_code) } });
    if (!code) throw new ApiError(404, 'code_not_found', 'unknown device code: run `trd-worker login` again', 'device_code');
    if (code.status === 'used') throw new ApiError(409, 'code_used', 'this login was completed already: run `trd-worker login` again for a new token');
    if (code.status === 'denied') throw new ApiError(403, 'access_denied', 'the owner denied this login: no token was issued (run `trd-worker login` again if that was a mistake)');
    if (code.expiresAt < new Date() && code.status === 'pending') throw new ApiError(410, 'code_expired', 'the code expired before it was approved: run `trd-worker login` again');
    if (code.status === 'pending') {
      res.status(428).json({ error: { message: 'waiting for the owner to approve the code', type: 'authorization_pending', param: null, code: 'authorization_pending' } });
      return;
    }
    const token = await db
      .$transaction(async (tx) => {
        // Into a fleet: the member's row stays locked to the commit, so two logins at once cannot both take the last place.
        const member = code.fleetId ? await lockMemberForLogin(tx, code.fleetId, code.ownerId!) : null;
        // Claimed in one update, so two polls cannot both get a token.
        const claimed = await tx.runnerDeviceCode.updateMany({ where: { deviceCodeHash: code.deviceCodeHash, status: 'approved' }, data: { status: 'used' } });
        if (claimed.count === 0) throw new ApiError(409, 'code_used', 'this login was completed already');
        const issued = await createRunnerToken(tx, code.runnerId!);
        await tx.runner.update({ where: { id: code.runnerId! }, data: { ownerId: code.ownerId, ownerEmail: code.email, fleetId: member?.fleetId ?? null, fleetMemberId: member?.id ?? null } });
        return issued;
      })
      .catch(fleetError);
    res.json({ runner_id: code.runnerId, token });
  });

  return router;
}
