/**
 * Rate limits for the endpoints that hand out or check secrets (runner login,
 * dashboard sign-in, API key creation): guessing a user code or an API key
 * takes many tries, and these make many tries slow. In-process fixed windows,
 * per client IP and per credential; a gateway replica counts on its own, so
 * N replicas allow N times the limit (still bounded).
 */
import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.js';

export interface RateLimitSettings {
  windowMs: number;
  /** Requests one client IP may make to one limited endpoint per window. */
  perIp: number;
  /** Requests per window for one credential (an API key, a device code). */
  perCredential: number;
}

/** Past this many tracked keys, expired windows are swept; a flood of new IPs cannot grow memory without bound. */
const MAX_KEYS = 100_000;

export class RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request for `key`: 0 when it may go ahead, else the milliseconds until its window resets. */
  hit(key: string): number {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= MAX_KEYS) this.sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    if (w.count >= this.limit) return w.resetAt - now;
    w.count++;
    return 0;
  }

  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    // Still full of live windows: drop the oldest, which only lets their owners start afresh.
    for (const key of this.windows.keys()) {
      if (this.windows.size < MAX_KEYS) break;
      this.windows.delete(key);
    }
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
  return (req, res, next) => {
    for (const check of checks) {
      const key = check.key(req, res);
      if (key === null) continue;
      const waitMs = check.limiter.hit(key);
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
export function ipAndCredentialLimit(what: string, s: RateLimitSettings, credential?: (req: Request, res: Response) => string | null, overrides: Partial<Pick<RateLimitSettings, 'perIp' | 'perCredential'>> = {}): RequestHandler {
  const checks: LimitCheck[] = [{ limiter: new RateLimiter(overrides.perIp ?? s.perIp, s.windowMs), per: 'IP address', key: clientIp }];
  if (credential) checks.push({ limiter: new RateLimiter(overrides.perCredential ?? s.perCredential, s.windowMs), per: 'credential', key: credential });
  return rateLimited(what, checks);
}
