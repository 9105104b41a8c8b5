/**
 * The owner dashboard's API: sign in with the account's API key (the one
 * that approved `trd-worker login`) for an HttpOnly session cookie; then one
 * overview of the owner's runners and earnings, pushed live over SSE, and
 * the runners' settings, which the daemons pick up with their next heartbeat.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { reputationScore, runnerStats } from '../dispatch/eligible.js';
import { heardFromLately, type DispatchSettings } from '../dispatch/settings.js';
import { runnerAccount } from '../economy/ledger.js';
import { balanceOf, ownerAccounts } from '../economy/redemption.js';
import { fleetStandings } from '../economy/fleets.js';
import { ownerHistory } from '../economy/history.js';
import { warmPoolEarnings } from '../economy/warm-pool.js';
import type { Db } from '../platform/db.js';
import { jsonBody } from './json-body.js';
import { findApiKey, requireApiKey } from './api-keys.js';
import { ApiError } from './errors.js';
import { servedOverHttps } from './public-url.js';
import { RunnerSettingsBody, SignInBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';
import { updateNotice, type RunnerVersionPolicy } from './runner-versions.js';
import { ipAndCredentialLimit } from './rate-limit.js';
import { hashToken, newToken } from './tokens.js';
import { payoutRailOf } from '../economy/payout-rail.js';
import { payoutRailJson } from './payout-rail.js';

const COOKIE = 'trd_session';
const RECENT_JOBS = 10;

function sessionCookie(header: string | undefined): string | null {
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(value.join('='));
  }
  return null;
}

export function requireOwnerSession(db: Db): RequestHandler {
  return async (req, res, next) => {
    const token = sessionCookie(req.get('cookie'));
    const session = token ? await db.ownerSession.findUnique({ where: { tokenHash: hashToken(token) } }) : null;
    if (!session || session.expiresAt < new Date()) throw new ApiError(401, 'not_signed_in', 'sign in on /dashboard with your API key');
    res.locals.customerId = session.customerId;
    next();
  };
}

/** The caller's own account from an API key (Authorization: Bearer) or, without one, the dashboard's session cookie. */
export function requireAccount(db: Db): RequestHandler {
  const byKey = requireApiKey(db);
  const bySession = requireOwnerSession(db);
  return (req, res, next) => (req.get('authorization') ? byKey(req, res, next) : bySession(req, res, next));
}

/** Signs the browser in to `customerId`'s dashboard: a new session, its token only in an HttpOnly cookie. */
export async function openOwnerSession(db: Db, settings: GatewaySettings, req: Request, res: Response, customerId: string): Promise<void> {
  const token = newToken('trd_ss_');
  const ttl = settings.dashboard.sessionTtlMs;
  await db.ownerSession.create({ data: { id: `ses_${randomUUID().replace(/-/g, '')}`, tokenHash: hashToken(token), customerId, expiresAt: new Date(Date.now() + ttl) } });
  res.cookie(COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: servedOverHttps(req, settings.publicUrl), path: '/', maxAge: ttl });
}

/** Everything the dashboard shows, in one object (the SSE stream sends it again when it changes). */
export async function ownerOverview(db: Db, customerId: string, dispatch: DispatchSettings, payouts?: Pick<GatewaySettings, 'chain' | 'payoutRailDelayMs'>, versions?: RunnerVersionPolicy) {
  const now = Date.now();
  const midnight = new Date(now);
  midnight.setUTCHours(0, 0, 0, 0);
  const [owner, runners] = await Promise.all([
    db.customer.findUniqueOrThrow({ where: { id: customerId }, select: { id: true, name: true } }),
    db.runner.findMany({ where: { ownerId: customerId }, orderBy: { id: 'asc' } }),
  ]);
  const ids = runners.map((r) => r.id);
  const accounts = ids.map(runnerAccount);
  const [stats, balance, today, todayJobs, recent, auditCounts, failedAudits] = await Promise.all([
    runnerStats(db, ids),
    // What the owner may redeem: its runners' earnings less its redemptions (the same figure as /v1/me/balance).
    balanceOf(db, await ownerAccounts(db, customerId)),
    db.ledgerEntry.aggregate({ where: { account: { in: accounts }, transaction: { createdAt: { gte: midnight } } }, _sum: { amount: true } }),
    db.job.count({ where: { workerId: { in: ids }, status: 'succeeded', finishedAt: { gte: midnight } } }),
    db.job.findMany({ where: { workerId: { in: ids }, status: 'succeeded' }, orderBy: { finishedAt: 'desc' }, take: RECENT_JOBS }),
    db.runnerAudit.groupBy({ by: ['runnerId', 'passed'], where: { runnerId: { in: ids } }, _count: true }),
    // Each runner's latest failed audit: the evidence the owner should see first.
    db.runnerAudit.findMany({ where: { runnerId: { in: ids }, passed: false }, orderBy: [{ runnerId: 'asc' }, { createdAt: 'desc' }], distinct: ['runnerId'] }),
  ]);
  const earnedByJob = new Map(
    (await db.ledgerEntry.findMany({ where: { account: { in: accounts }, transaction: { jobId: { in: recent.map((j) => j.id) } } }, include: { transaction: true } })).map((e) => [
      e.transaction.jobId!,
      Number(e.amount),
    ]),
  );
  const auditsOf = (runnerId: string) => {
    const last = failedAudits.find((a) => a.runnerId === runnerId);
    return {
      passed: auditCounts.find((c) => c.runnerId === runnerId && c.passed)?._count ?? 0,
      failed: auditCounts.find((c) => c.runnerId === runnerId && !c.passed)?._count ?? 0,
      last_failed: last ? { id: last.id, job_id: last.jobId, detail: last.detail, evidence: last.evidence ?? null, at: last.createdAt.toISOString() } : null,
    };
  };
  // Where payouts go, and a change waiting out its delay: the owner sees a redirect they did not ask for, and cancels it.
  // A fleet runner's standing: its member's daily cap reached, or over the member's runner limit.
  const fleet = await fleetStandings(db, runners, new Date(now));
  const warmPool = await warmPoolEarnings(db, ids, midnight);
  const decisions = await db.runnerDecision.groupBy({ by: ['runnerId'], where: { runnerId: { in: ids }, seq: { not: null } }, _count: true });
  const rail = payouts ? payoutRailJson(await payoutRailOf(db, customerId, new Date(now)), payouts) : null;
  return {
    owner,
    balance_microcredits: balance,
    payout_rail: rail,
    today: { since: midnight.toISOString(), jobs: todayJobs, earned_microcredits: Number(today._sum.amount ?? 0n) },
    runners: runners.map((r) => {
      const s = stats.get(r.id)!;
      const online = heardFromLately(r.lastHeartbeatAt, dispatch, now) && r.state !== 'stopping';
      return {
        id: r.id,
        online,
        state: online ? r.state : 'offline',
        state_reason: online ? r.stateReason : null,
        tier: r.tier,
        reputation: reputationScore(s),
        jobs_done: s.successes,
        tokens_per_second: s.tokensPerSecond,
        loaded_models: online ? r.loadedModels : [],
        current_jobs: online ? r.currentJobs : [],
        last_heartbeat_at: r.lastHeartbeatAt?.toISOString() ?? null,
        settings: RunnerSettingsBody.parse(r.settings ?? {}),
        audits: auditsOf(r.id),
        version: r.runnerVersion,
        update: versions ? updateNotice(r.runnerVersion, versions) : null,
        fleet: fleet.has(r.id) ? { id: fleet.get(r.id)!.fleetId, hold: fleet.get(r.id)!.hold, refused: fleet.get(r.id)!.refused } : null,
        // Credits today for keeping a model warm while idle (economy/warm-pool.ts).
        warm_pool_today: warmPool.get(r.id)!,
        // The platform's signed decisions about it (GET /v1/owner/runners/:id/decisions).
        decisions_signed: decisions.find((d) => d.runnerId === r.id)?._count ?? 0,
      };
    }),
    recent_jobs: recent.map((j) => ({
      id: j.id,
      model: j.model,
      worker_id: j.workerId,
      completion_tokens: j.completionTokens,
      earned_microcredits: earnedByJob.get(j.id) ?? 0,
      finished_at: j.finishedAt?.toISOString() ?? null,
      receipt_url: `/v1/receipts/${j.id}`,
    })),
  };
}

export function ownerRouter(deps: { db: Db; settings: GatewaySettings }): Router {
  const { db, settings } = deps;
  const router = Router();
  const requireSession = requireOwnerSession(db);
  const overview = (customerId: string) => ownerOverview(db, customerId, settings.dispatch, settings, settings.runnerVersions);

  // Signing in checks an API key: guessing keys from one address, or trying one key over and over, is slowed down.
  const limitSignIns = ipAndCredentialLimit(deps.db, 'sign-in', settings.rateLimits, (req) => (typeof req.body?.api_key === 'string' ? hashToken(req.body.api_key) : null));
  router.post('/v1/owner/session', limitSignIns, async (req, res) => {
    const body = SignInBody.parse(jsonBody(req));
    const key = await findApiKey(db, body.api_key);
    if (!key) throw new ApiError(401, 'invalid_api_key', 'that API key is not valid (unknown or revoked)', 'api_key');
    await openOwnerSession(db, settings, req, res, key.customerId);
    res.status(201).json(await overview(key.customerId));
  });

  router.delete('/v1/owner/session', async (req, res) => {
    const token = sessionCookie(req.get('cookie'));
    if (token) await db.ownerSession.deleteMany({ where: { tokenHash: hashToken(token) } });
    res.clearCookie(COOKIE, { path: '/' }).status(204).end();
  });

  router.get('/v1/owner/overview', requireSession, async (_req, res) => {
    res.json(await overview(res.locals.customerId));
  });

  // Live: the overview again whenever it changed, checked every dashboard.pushIntervalMs.
  router.get('/v1/owner/events', requireSession, async (req, res) => {
    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    let last = '';
    let closed = false;
    res.on('close', () => (closed = true));
    while (!closed) {
      try {
        const next = JSON.stringify(await overview(res.locals.customerId));
        if (next !== last) res.write(`event: overview\ndata: ${next}\n\n`);
        else res.write(': still here\n\n');
        last = next;
      } catch (err) {
        console.error('gateway: dashboard overview failed:', err);
      }
      await new Promise((r) => setTimeout(r, settings.dashboard.pushIntervalMs));
    }
    res.end();
  });

  // The plots: earnings, speed and reliability per day, jobs and warm minutes per hour, per runner and all together.
  router.get('/v1/owner/history', requireAccount(db), async (_req, res) => {
    res.json({ object: 'owner_history', ...(await ownerHistory(db, res.locals.customerId)) });
  });

  // The signed chain of the platform's decisions about one of the owner's runners, oldest first: to keep, and to check in verify-web.
  router.get('/v1/owner/runners/:id/decisions', requireAccount(db), async (req, res) => {
    const runner = await db.runner.findFirst({ where: { id: String(req.params.id), ownerId: res.locals.customerId }, select: { id: true } });
    if (!runner) throw new ApiError(404, 'runner_not_found', `you have no runner ${JSON.stringify(req.params.id)}`, 'id');
    const [signed, pending] = await Promise.all([
      db.runnerDecision.findMany({ where: { runnerId: runner.id, seq: { not: null } }, orderBy: { seq: 'asc' }, select: { document: true } }),
      db.runnerDecision.count({ where: { runnerId: runner.id, seq: null } }),
    ]);
    res.json({ object: 'runner_decisions', runner_id: runner.id, decisions: signed.map((d) => d.document), pending, verify_at: '/verify/' });
  });

  router.put('/v1/owner/runners/:id/settings', requireSession, async (req, res) => {
    const runner = await db.runner.findFirst({ where: { id: String(req.params.id), ownerId: res.locals.customerId } });
    if (!runner) throw new ApiError(404, 'runner_not_found', `you have no runner ${JSON.stringify(req.params.id)}`, 'id');
    const settingsBody = RunnerSettingsBody.parse(jsonBody(req));
    await db.runner.update({ where: { id: runner.id }, data: { settings: settingsBody } });
    res.json(settingsBody);
  });

  return router;
}
