/**
 * `trd-worker login`, the device-code way (as `gh auth login` does it): the
 * CLI asks for a code pair, the owner enters the short user code while signed
 * in (here: with their API key), and the CLI's next poll gets the runner's id
 * and token, once. Only hashes of the device code and the token are stored.
 */
import { Router, type RequestHandler } from 'express';
import { randomBytes, randomInt } from 'node:crypto';
import type { Db } from '../platform/db.js';
import { jsonBody } from './json-body.js';
import { ApiError } from './errors.js';
import { publicBase } from './public-url.js';
import { createRunnerToken } from './runners.js';
import { ApproveDeviceCodeBody, DeviceCodeBody, DeviceTokenBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';
import { ipAndCredentialLimit } from './rate-limit.js';
import { hashToken } from './tokens.js';

/** No 0/O or 1/I: the user types it. */
const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function newUserCode(): string {
  const pick = () => Array.from({ length: 4 }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');
  return `${pick()}-${pick()}`;
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

  router.post('/v1/runners/device-codes', limitCodes, async (req, res) => {
    const body = DeviceCodeBody.parse(jsonBody(req));
    const deviceCode = randomBytes(32).toString('base64url');
    const userCode = newUserCode();
    await db.runnerDeviceCode.create({
      data: {
        deviceCodeHash: hashToken(deviceCode),
        userCode,
        email: body.email,
        status: 'pending',
        expiresAt: new Date(Date.now() + settings.login.codeTtlMs),
      },
    });
    const base = publicBase(req, settings.publicUrl);
    res.status(201).json({
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: `${base}/v1/runners/device-codes/approve`,
      expires_in: Math.floor(settings.login.codeTtlMs / 1000),
      interval_ms: settings.login.pollIntervalMs,
    });
  });

  // The owner, signed in with their API key, approves the code the CLI printed.
  router.post('/v1/runners/device-codes/approve', deps.requireApiKey, limitApprovals, async (req, res) => {
    const body = ApproveDeviceCodeBody.parse(jsonBody(req));
    const code = await db.runnerDeviceCode.findUnique({ where: { userCode: body.user_code.toUpperCase() } });
    if (!code || code.expiresAt < new Date()) throw new ApiError(404, 'code_not_found', 'no such code, or it expired: run `trd-worker login` again', 'user_code');
    if (code.status !== 'pending') throw new ApiError(409, 'code_used', 'this code was already approved', 'user_code');
    const runnerId = `runner-${randomBytes(6).toString('hex')}`;
    await db.runnerDeviceCode.update({ where: { deviceCodeHash: code.deviceCodeHash }, data: { status: 'approved', ownerId: res.locals.customerId, runnerId } });
    res.json({ runner_id: runnerId, approved: true });
  });

  // The CLI polls with its device code: pending, then the token once.
  router.post('/v1/runners/device-token', limitPolls, async (req, res) => {
    const body = DeviceTokenBody.parse(jsonBody(req));
    const code = await db.runnerDeviceCode.findUnique({ where: { deviceCodeHash: hashToken(body.device_code) } });
    if (!code) throw new ApiError(404, 'code_not_found', 'unknown device code: run `trd-worker login` again', 'device_code');
    if (code.status === 'used') throw new ApiError(409, 'code_used', 'this login was completed already: run `trd-worker login` again for a new token');
    if (code.expiresAt < new Date() && code.status === 'pending') throw new ApiError(410, 'code_expired', 'the code expired before it was approved: run `trd-worker login` again');
    if (code.status === 'pending') {
      res.status(428).json({ error: { message: 'waiting for the owner to approve the code', type: 'authorization_pending', param: null, code: 'authorization_pending' } });
      return;
    }
    // Claimed in one update, so two polls cannot both get a token.
    const claimed = await db.runnerDeviceCode.updateMany({ where: { deviceCodeHash: code.deviceCodeHash, status: 'approved' }, data: { status: 'used' } });
    if (claimed.count === 0) throw new ApiError(409, 'code_used', 'this login was completed already');
    const token = await createRunnerToken(db, code.runnerId!);
    await db.runner.update({ where: { id: code.runnerId! }, data: { ownerId: code.ownerId, ownerEmail: code.email } });
    res.json({ runner_id: code.runnerId, token });
  });

  return router;
}
