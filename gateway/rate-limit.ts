/**
 * Rate limits for the endpoints that hand out or check secrets (runner login,
 * dashboard sign-in, API key creation): guessing a user code or an API key
 * takes many tries, and these make many tries slow. Fixed windows per client
 * IP and per credential, counted in PostgreSQL by the database's clock, so
 * every gateway replica counts against the same limit.
 */
import type { Request, RequestHandler, Response } from 'express';
import { createHash } from 'node:crypto';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';

export interface RateLimitSettings {
  windowMs: number;
  /** Requests one client IP may make to one limited endpoint per window. */
  perIp: number;
  /** Requests per window for one credential (an API key, a device code). */
  perCredential: number;
}

/** About one hit in this many also deletes long-expired windows, so the table stays small. */
const SWEEP_ONE_IN = 500;

export class RateLimiter {
  constructor(
    private readonly db: Db,
    /** Which limit this is ("login:ip"): the same key under two limits counts twice. */
    readonly scope: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Counts one request for `key`: 0 when it may go ahead, else the milliseconds until its window resets. */
  async hit(key: string): Promise<number> {
    const id = createHash('sha256').update(`${this.scope}\n${key}`).digest();
    const [row] = await this.db.$queryRaw<{ count: number; wait_ms: number }[]>`
      INSERT INTO rate_limit_windows (key, reset_at, count)
      VALUES (${id}, now() + ${this.windowMs} * interval '1 millisecond', 1)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limit_windows.reset_at <= now() THEN 1 ELSE rate_limit_windows.count + 1 END,
        reset_at = CASE WHEN rate_limit_windows.reset_at <= now() THEN EXCLUDED.reset_at ELSE rate_limit_windows.reset_at END
      RETURNING count, (EXTRACT(EPOCH FROM (reset_at - now())) * 1000)::float8 AS wait_ms`;
    if (Math.random() * SWEEP_ONE_IN < 1) {
      void this.db.$executeRaw`DELETE FROM rate_limit_windows WHERE reset_at < now() - interval '1 hour'`.catch(() => {});
    }
    return row.count > this.limit ? Math.max(1, Math.ceil(row.wait_ms)) : 0;
  }
}

export interface LimitCheck {
  limiter: RateLimiter;
  /** What the limit counts ("IP address", "API key"), for the message. */
  per: string;
  /** The key this request counts against; null skips the check (no credential in the request). */
  key(req: Request, res: Response): string | null;
}

/** Answers 429 with Retry-After and the usual error body when any check is over its limit. */
export function rateLimited(what: string, checks: LimitCheck[]): RequestHandler {
  return async (req, res, next) => {
    for (const check of checks) {
      const key = check.key(req, res);
      if (key === null) continue;
      const waitMs = await check.limiter.hit(key);
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new ApiError(429, 'rate_limited', `too many ${what} requests for this ${check.per}; try again in ${seconds} s`, null, { 'retry-after': String(seconds) });
      }
    }
    next();
  };
}

/** The client's address as Express sees it (the socket's peer, or X-Forwarded-For under `trust proxy`). */
export const clientIp = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** The usual pair: per client IP, and per credential when the request carries one. */
export function ipAndCredentialLimit(
  db: Db,
  what: string,
  s: RateLimitSettings,
  credential?: (req: Request, res: Response) => string | null,
  overrides: Partial<Pick<RateLimitSettings, 'perIp' | 'perCredential'>> = {},
): RequestHandler {
  const checks: LimitCheck[] = [{ limiter: new RateLimiter(db, `${what}:ip`, overrides.perIp ?? s.perIp, s.windowMs), per: 'IP address', key: clientIp }];
  if (credential) checks.push({ limiter: new RateLimiter(db, `${what}:credential`, overrides.perCredential ?? s.perCredential, s.windowMs), per: 'credential', key: credential });
  return rateLimited(what, checks);
}
