/**
 * Runners as the gateway sees them: registration (a runner id and its token;
 * `trd-worker login` will issue these), heartbeats, and the eligible-workers
 * call customers use to see who would run their job.
 */
import { Router, type RequestHandler } from 'express';
import type { Client } from '@temporalio/client';
import { assertWorkerId, findModel, type HeartbeatAnswer, type TrustTier } from '@trd/protocol';
import { eligibleRunners } from '../dispatch/eligible.js';
import type { DispatchSettings } from '../dispatch/settings.js';
import { updateNotice, type RunnerVersionPolicy } from './runner-versions.js';
import type { Db } from '../platform/db.js';
import { recordDecisions } from '../platform/runner-decisions.js';
import { jsonBody } from './json-body.js';
import { ApiError } from './errors.js';
import { runnerAccount } from '../economy/ledger.js';
import { workerCard } from '../economy/worker-card.js';
import { isWarm } from '../economy/history.js';
import { warmPoolEarnings } from '../economy/warm-pool.js';
import { fleetStandings } from '../economy/fleets.js';
import { EligibleQuery, RunnerBenchBody, RunnerHeartbeatBody, RunnerSettingsBody, RunnerSettingsPatch } from './schemas.js';
import { bearerToken, hashToken, newToken } from './tokens.js';

const TOKEN_PREFIX = 'trd_rt_';
/** Audits listed in GET /v1/runners/me; the counts cover all of them. */
const RECENT_AUDITS = 20;

/** Registers a runner (or gives an existing one a new token); returns the token in the clear, once. */
export async function createRunnerToken(db: Pick<Db, 'runner'>, runnerId: string, tier: TrustTier = 'probation'): Promise<string> {
  assertWorkerId(runnerId);
  const token = newToken(TOKEN_PREFIX);
  await db.runner.upsert({
    where: { id: runnerId },
    create: { id: runnerId, tokenHash: hashToken(token), tier },
    update: { tokenHash: hashToken(token), tier },
  });
  return token;
}

/** A fleet runner's standing (its member's cap hold, or a refusal over the runner limit) for the heartbeat answer and `status`. */
async function fleetStandingOf(db: Db, runner: { id: string; fleetMemberId: string | null }) {
  const s = (await fleetStandings(db, [runner])).get(runner.id);
  return s ? { id: s.fleetId, hold: s.hold, refused: s.refused } : null;
}

function settingsOf(stored: unknown) {
  return RunnerSettingsBody.parse(stored ?? {});
}

/** Sets `res.locals.runnerId` from the runner token, or answers 401. */
function requireRunnerToken(db: Db): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'), 'runner token', TOKEN_PREFIX);
    const runner = await db.runner.findUnique({ where: { tokenHash: hashToken(token) }, select: { id: true } });
    if (!runner) throw new ApiError(401, 'invalid_runner_token', 'the runner token is not valid (unknown or replaced)');
    res.locals.runnerId = runner.id;
    next();
  };
}

export function runnersRouter(deps: { db: Db; temporal: Client; dispatch: DispatchSettings; runnerVersions: RunnerVersionPolicy; requireApiKey: RequestHandler }): Router {
  const { db, dispatch } = deps;
  const router = Router();

  router.post('/v1/runners/heartbeat', requireRunnerToken(db), async (req, res) => {
    const beat = RunnerHeartbeatBody.parse(jsonBody(req));
    // Read at each beat: a new minimum reaches every runner at its next heartbeat.
    const update = updateNotice(beat.runner_version ?? null, deps.runnerVersions);
    const runner = await db.runner.update({
      where: { id: res.locals.runnerId },
      data: {
        state: beat.state,
        loadedModels: beat.loaded_models,
        diskModels: beat.disk_models,
        runningJobs: beat.running_jobs,
        currentJobs: beat.current_jobs,
        slots: beat.slots,
        freeVramMiB: beat.free_vram_mib,
        stateReason: beat.state_reason,
        runnerVersion: beat.runner_version ?? null,
        // The runner endpoint refuses this runner's polls while it is set (runner-proxy/entitlements.ts).
        updateRequired: update?.level === 'required' ? update.message : null,
        lastHeartbeatAt: new Date(),
      },
    });
    // Falling below the minimum version is a decision about the runner (it gets no new jobs), recorded once per version
    // and message by its key: only a runner below the minimum pays for the write, not every heartbeat.
    if (runner.updateRequired) {
      await recordDecisions(db, [{ runnerId: runner.id, kind: 'update_required', key: `update:${runner.runnerVersion}:${runner.updateRequired}`, detail: { message: runner.updateRequired, version: runner.runnerVersion }, at: new Date() }]);
    }
    // Uptime, by the minute, for reputation and the worker card; a minute is warm once any beat in it had a model ready for jobs.
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    // Its idle models are those loaded in every beat of the minute while idle: one busy or paused beat empties them.
    const warm = isWarm(beat.state, beat.loaded_models);
    const idle = beat.state === 'idle' && beat.running_jobs === 0 ? beat.loaded_models : [];
    await db.$executeRaw`INSERT INTO runner_uptime_minutes (runner_id, minute, warm, idle_models) VALUES (${runner.id}, ${minute}, ${warm}, ${idle}::text[])
      ON CONFLICT (runner_id, minute) DO UPDATE SET warm = runner_uptime_minutes.warm OR EXCLUDED.warm,
        idle_models = ARRAY(SELECT unnest(runner_uptime_minutes.idle_models) INTERSECT SELECT unnest(EXCLUDED.idle_models))`;
    // Typed by the contract the runner parses it with (protocol/runner-contract.ts).
    const answer: HeartbeatAnswer = {
      runner_id: runner.id,
      tier: runner.tier as TrustTier,
      heartbeat_interval_ms: dispatch.runnerHeartbeatIntervalMs,
      settings: settingsOf(runner.settings),
      // A shadowbanned runner takes no new jobs, and says why.
      shadowbanned: runner.shadowbannedReason,
      // An update notice (recommended, or required: below the minimum no new jobs come), with the command.
      update,
      fleet: await fleetStandingOf(db, runner),
    };
    res.json(answer);
  });

  // The owner's settings (the dashboard and the CLI write them with the runner's token); a bad one changes nothing.
  router.get('/v1/runners/settings', requireRunnerToken(db), async (_req, res) => {
    const runner = await db.runner.findUniqueOrThrow({ where: { id: res.locals.runnerId } });
    res.json(settingsOf(runner.settings));
  });

  router.put('/v1/runners/settings', requireRunnerToken(db), async (req, res) => {
    const settings = RunnerSettingsBody.parse(jsonBody(req));
    await db.runner.update({ where: { id: res.locals.runnerId }, data: { settings } });
    res.json(settings);
  });

  // Changes only the fields given (the CLI's `settings set`); the result is validated as a whole.
  router.patch('/v1/runners/settings', requireRunnerToken(db), async (req, res) => {
    const changes = RunnerSettingsPatch.parse(jsonBody(req));
    const settings = await db.$transaction(async (tx) => {
      // Two owners' tools patching at once must not lose either change.
      await tx.$queryRaw`SELECT 1 FROM runners WHERE id = ${res.locals.runnerId} FOR UPDATE`;
      const runner = await tx.runner.findUniqueOrThrow({ where: { id: res.locals.runnerId } });
      const merged = RunnerSettingsBody.parse({ ...settingsOf(runner.settings), ...changes });
      await tx.runner.update({ where: { id: runner.id }, data: { settings: merged } });
      return merged;
    });
    res.json(settings);
  });

  // `trd-worker bench` files its result: a claim, shown as such; routing and tiers use measured speed.
  router.post('/v1/runners/bench', requireRunnerToken(db), async (req, res) => {
    const bench = RunnerBenchBody.parse(jsonBody(req));
    await db.runner.update({
      where: { id: res.locals.runnerId },
      data: { benchClass: bench.hardware_class, benchTokensPerSecond: bench.generation_tokens_per_second.median },
    });
    res.status(201).json({ filed: true, runner_id: res.locals.runnerId });
  });

  // `trd-worker status`: who the token is, and today's work (since 00:00 UTC) from the job records and the ledger.
  router.get('/v1/runners/me', requireRunnerToken(db), async (_req, res) => {
    const id = res.locals.runnerId as string;
    const midnight = new Date();
    midnight.setUTCHours(0, 0, 0, 0);
    const [runner, jobs, earned, audits, auditCounts, warmPool] = await Promise.all([
      db.runner.findUniqueOrThrow({ where: { id } }),
      db.job.count({ where: { workerId: id, status: 'succeeded', finishedAt: { gte: midnight } } }),
      db.ledgerEntry.aggregate({ where: { account: runnerAccount(id), transaction: { createdAt: { gte: midnight } } }, _sum: { amount: true } }),
      db.runnerAudit.findMany({ where: { runnerId: id }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: RECENT_AUDITS }),
      db.runnerAudit.groupBy({ by: ['passed'], where: { runnerId: id }, _count: true }),
      warmPoolEarnings(db, [id], midnight),
    ]);
    res.json({
      runner_id: id,
      tier: runner.tier,
      state: runner.state,
      current_jobs: runner.currentJobs,
      last_heartbeat_at: runner.lastHeartbeatAt?.toISOString() ?? null,
      bench: runner.benchClass ? { class: runner.benchClass, tokens_per_second: runner.benchTokensPerSecond } : null,
      reputation_score: runner.reputationScore,
      shadowbanned: runner.shadowbannedReason,
      version: runner.runnerVersion,
      update: updateNotice(runner.runnerVersion, deps.runnerVersions),
      fleet: await fleetStandingOf(db, runner),
      // The 90-day clean-audit badge, and how long until it.
      verified_badge: (await workerCard(db, id))!.verified_badge,
      // Earned covers everything; warm_pool is the part paid for keeping models warm while idle.
      today: { since: midnight.toISOString(), jobs, earned_microcredits: Number(earned._sum.amount ?? 0n), warm_pool: warmPool.get(id)! },
      // Every check of its results, latest first, with the evidence: what was found and by whom.
      audits: {
        passed: auditCounts.find((c) => c.passed)?._count ?? 0,
        failed: auditCounts.find((c) => !c.passed)?._count ?? 0,
        recent: audits.map((a) => ({
          id: a.id,
          job_id: a.jobId,
          passed: a.passed,
          detail: a.detail,
          evidence: a.evidence ?? null,
          at: a.createdAt.toISOString(),
        })),
      },
    });
  });

  // Revocation: the token stops working at once here, and at the runner endpoint within its re-check interval.
  router.delete('/v1/runners/token', requireRunnerToken(db), async (_req, res) => {
    await db.runner.update({ where: { id: res.locals.runnerId }, data: { tokenHash: null } });
    res.json({ runner_id: res.locals.runnerId, revoked: true });
  });

  // The owner revokes one of their runners (a lost or compromised machine).
  router.delete('/v1/runners/:id/token', deps.requireApiKey, async (req, res) => {
    const revoked = await db.runner.updateMany({ where: { id: String(req.params.id), ownerId: res.locals.customerId }, data: { tokenHash: null } });
    if (revoked.count === 0) throw new ApiError(404, 'runner_not_found', 'no runner of yours has that id (GET /v1/owner/overview lists them)', 'id');
    res.json({ runner_id: req.params.id, revoked: true });
  });

  router.get('/v1/dispatch/eligible', deps.requireApiKey, async (req, res) => {
    const query = EligibleQuery.parse(req.query);
    if (!findModel(query.model)) throw new ApiError(404, 'model_not_found', `model "${query.model}" is not in the catalog (GET /v1/models lists them)`, 'model');
    const runners = await eligibleRunners({ client: deps.temporal, db, settings: dispatch }, { model: query.model, minTier: query.min_tier });
    res.json({
      object: 'list',
      model: query.model,
      min_tier: query.min_tier,
      data: runners.map((r) => ({
        worker_id: r.workerId,
        is_warm: r.isWarm,
        available: r.available,
        tier: r.tier,
        reputation: r.reputation,
        bench_class: r.benchClass,
        tokens_per_second: r.tokensPerSecond,
        load: { running_jobs: r.runningJobs, slots: r.slots },
        last_heartbeat_at: r.lastHeartbeatAt,
        last_polled_at: r.lastPolledAt,
      })),
    });
  });

  return router;
}
