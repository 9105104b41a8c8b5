/**
 * The runner process: resolve its models, load those it should, then poll
 * their task queues as an activity-only Temporal worker (one Worker per
 * queue). It never runs workflow code and holds no platform secret.
 *
 * Which queues it polls follows from its state (protocol/queues.ts): for each
 * model, the warm queues once it is loaded and the cold queues until then,
 * each for every trust tier up to its own, and always its own runner queue. A
 * cold model that gets loaded swaps its cold queues for warm ones (the cold
 * Worker stops once its job is done); a changed tier changes the set.
 */
import { Worker } from '@temporalio/worker';
import { TRUST_TIERS, modelQueue, runnerQueue, tiersUpTo, type TrustTier } from '@trd/protocol';
import { createRunnerActivities } from './activities.js';
import { checkSignedCatalog } from './catalog-check.js';
import { connect, type ConnectionSettings } from './connection.js';
import { installedGenerationWrapper } from './generation-wrapper.js';
import { gatewayDispatchGuard, keysRefreshMs } from './dispatch-guard.js';
import { GatewayRejected, sendHeartbeat, type RunnerHeartbeat, type UpdateNotice } from './gateway-client.js';
import { JobSlots } from './job-slots.js';
import { resolveModel } from './model-files.js';
import { DEFAULT_OWNER_SETTINGS, onBattery, ownerClock, servingDecision, type OwnerSettings } from './owner-settings.js';
import { ServedModel } from './served-model.js';
import { RUNNER_VERSION } from './version.js';

/** The longest a cancellation waits for the runner's next heartbeat to reach Temporal. */
const HEARTBEAT_THROTTLE_MS = 500;

export interface RunnerSettings {
  models: string[];
  /** 'on-demand' keeps models on disk until a job needs one (cold). */
  load: 'on-start' | 'on-demand';
  modelKey?: string;
  modelsDir: string;
  /** Without a gateway, the runner's own name for itself; with one, the gateway says. */
  workerId?: string;
  threads: number;
  /** Jobs at once (one llama.cpp sequence each); the owner's max_concurrent_jobs may lower it. */
  concurrency: number;
  /** Tokens of context per sequence; default: the model's, at most 8192. */
  contextSize?: number;
  /** How long a shutdown waits for the job in flight before handing it back. */
  shutdownGraceMs: number;
  /** How long a task that arrived while every sequence is busy may wait for one. */
  sequenceWaitMs: number;
  /** A generation with no new token for this long is aborted and handed back as stalled. */
  stallTimeoutMs: number;
  connection: ConnectionSettings;
  /** Heartbeats go here, with the token from `connection.token`. */
  gatewayUrl?: string;
}

export interface RunningRunner {
  workerId: string;
  tier: TrustTier;
  /** The queues it polls now. */
  queues(): string[];
  /** Resolves when every worker has stopped (after SIGINT/SIGTERM or shutdown()). */
  done: Promise<void>;
  shutdown(): void;
}

export async function startRunner(s: RunnerSettings, log: (line: string) => void): Promise<RunningRunner> {
  const testBuild = installedGenerationWrapper();
  if (testBuild) log(`WARNING: ${testBuild.warning}`);
  else if (process.env.TRD_RUNNER_FAULTS) log('TRD_RUNNER_FAULTS is ignored: fault injection is in the test build only (gpu-runner/testing/trd-worker.js)');
  if (!s.gatewayUrl) log('no --gateway-url: tasks are not checked for the platform\'s dispatch signature (fine on a private Temporal only)');
  if (s.models.length === 0) throw new Error('no model to serve: pass --model <key|path>');
  if (s.modelKey && s.models.length > 1) throw new Error('--model-key names the key of one GGUF file; pass one --model with it');

  const models = new Map<string, ServedModel>();
  for (const spec of s.models) {
    const model = await resolveModel(spec, { modelsDir: s.modelsDir, keyOverride: s.modelKey });
    if (models.has(model.key)) throw new Error(`model ${model.key} is given twice`);
    models.set(model.key, new ServedModel(model, { sequences: s.concurrency, threads: s.threads, contextSize: s.contextSize, extraLoadDelayMs: testBuild?.loadDelayMs }));
  }

  const currentJobs = new Set<string>();
  let stopping = false;
  let settings: OwnerSettings = DEFAULT_OWNER_SETTINGS;
  let pausedFor: string | null = null;
  const jobSlots = new JobSlots(s.concurrency);
  /** The models it serves now: all it has, or those of them on the owner's whitelist. */
  const served = () => [...models.values()].filter((m) => !settings.models || settings.models.includes(m.key));
  const heartbeat = (): RunnerHeartbeat => {
    return {
      state: stopping ? 'stopping' : pausedFor ? 'paused' : currentJobs.size > 0 ? 'busy' : 'idle',
      loaded_models: served().filter((m) => m.loaded).map((m) => m.key),
      disk_models: served().filter((m) => !m.loaded).map((m) => m.key),
      running_jobs: currentJobs.size,
      current_jobs: [...currentJobs],
      slots: jobSlots.limit,
      free_vram_mib: freeVramMiB,
      state_reason: stopping ? null : pausedFor,
      runner_version: RUNNER_VERSION,
    };
  };
  /** Sampled before each heartbeat through a loaded model's llama.cpp; null without a GPU or a loaded model. */
  let freeVramMiB: number | null = null;
  const sampleVram = async () => {
    const engine = [...models.values()].find((m) => m.loaded)?.loaded;
    freeVramMiB = engine ? await engine.freeVramMiB() : null;
  };

  /** The platform's update notice; a required one means no new jobs (the runner endpoint would refuse its polls). */
  let update: UpdateNotice | null = null;
  let workerId = s.workerId ?? '';
  let tier: TrustTier = TRUST_TIERS[0];
  let heartbeatEveryMs = 30_000;
  const token = s.connection.token;
  if (s.gatewayUrl) {
    if (!token) throw new Error('--gateway-url needs --token (the runner token the gateway issued)');
    const answer = await sendHeartbeat(s.gatewayUrl, token, { ...heartbeat(), state: 'starting' });
    if (s.workerId && s.workerId !== answer.runner_id) {
      throw new Error(`--worker-id ${s.workerId} does not match this token's runner, ${answer.runner_id}; drop --worker-id`);
    }
    ({ runner_id: workerId, tier, heartbeat_interval_ms: heartbeatEveryMs, settings } = answer);
    update = answer.update ?? null;
    if (update) log(`${update.level === 'required' ? 'UPDATE REQUIRED' : 'update available'}: ${update.message}`);
    await checkSignedCatalog(s.gatewayUrl, [...models.values()].map((m) => m.model));
  }
  if (!workerId) throw new Error('no worker id: pass --worker-id, or --gateway-url and --token so the gateway names this runner');

  if (s.load === 'on-start') {
    for (const m of models.values()) {
      const { engine } = await m.ensureLoaded();
      log(`loaded ${m.key} from ${m.model.path} in ${engine.loadMs} ms (sha256 ${m.model.sha256.slice(0, 12)}…, ${s.threads} thread(s))`);
    }
  }

  const connection = await connect(s.connection);
  const workers = new Map<string, { worker: Worker; running: Promise<void> }>();
  let failed: unknown = null;
  let wakeDone: () => void = () => {};
  const allStopped = new Promise<void>((resolve) => (wakeDone = resolve));

  let shadowbanned: string | null = null;
  /** Its fleet's word: the member's daily cap reached (no new jobs until the fleet's midnight) or over the runner limit. */
  let fleetBlock: string | null = null;
  /** Takes no new work while the owner's settings say so (paused, on battery, outside the schedule), or the platform's shadowban or required update. */
  const applySettings = () => {
    const decision = shadowbanned
      ? { serve: false as const, reason: `shadowbanned by the platform: ${shadowbanned}` }
      : fleetBlock
        ? { serve: false as const, reason: `fleet: ${fleetBlock}` }
        : update?.level === 'required'
          ? { serve: false as const, reason: `update required: ${update.message}` }
          : servingDecision(settings, ownerClock(), onBattery());
    const reason = decision.serve ? null : decision.reason;
    if (reason !== pausedFor) log(reason ? `not taking new jobs: ${reason}` : 'taking jobs again');
    pausedFor = reason;
    const limit = Math.min(settings.max_concurrent_jobs ?? s.concurrency, s.concurrency);
    if (limit !== jobSlots.limit) log(`at most ${limit} job(s) at once`);
    jobSlots.setLimit(limit);
  };
  applySettings();

  const desiredQueues = (): string[] => {
    if (pausedFor) return [];
    const queues = [runnerQueue(workerId)];
    for (const m of served()) {
      for (const t of tiersUpTo(tier)) queues.push(modelQueue(m.key, m.loaded ? 'warm' : 'cold', t));
    }
    return queues;
  };

  let lastBeatAt = 0;
  let beatPending = false;
  const beat = async () => {
    if (!s.gatewayUrl || !token) return;
    lastBeatAt = Date.now();
    try {
      await sampleVram();
      const answer = await sendHeartbeat(s.gatewayUrl, token, heartbeat());
      heartbeatEveryMs = answer.heartbeat_interval_ms;
      if (answer.tier !== tier) log(`trust tier is now ${answer.tier} (was ${tier})`);
      tier = answer.tier;
      settings = answer.settings;
      shadowbanned = answer.shadowbanned ?? null;
      fleetBlock = answer.fleet?.refused ?? answer.fleet?.hold ?? null;
      // Said once per change, as the owner should read it in the daemon's log.
      if ((answer.update?.message ?? null) !== (update?.message ?? null)) {
        if (answer.update) log(`${answer.update.level === 'required' ? 'UPDATE REQUIRED' : 'update available'}: ${answer.update.message}`);
        else if (update) log('this trd-worker is up to date again');
      }
      update = answer.update ?? null;
      const wasPaused = pausedFor;
      applySettings();
      await reconcile();
      // Say "paused" (or back) at once, so routing stops (or starts) counting this runner.
      if (wasPaused !== pausedFor) beatSoon();
    } catch (err) {
      log(`heartbeat: ${(err as Error).message}`);
      if (err instanceof GatewayRejected) shutdown();
    }
  };
  /** A change of load is sent soon, but at most one heartbeat a second goes out for it. */
  const beatSoon = () => {
    if (beatPending || !s.gatewayUrl) return;
    beatPending = true;
    setTimeout(() => {
      beatPending = false;
      void beat();
    }, Math.max(0, 1000 - (Date.now() - lastBeatAt))).unref();
  };

  const dispatchGuard = s.gatewayUrl ? gatewayDispatchGuard(s.gatewayUrl, { refreshMs: keysRefreshMs(process.env) }) : undefined;
  // The keys are fetched now, while the gateway just answered: a gateway outage later does not hold up tasks.
  await dispatchGuard?.prefetch().catch((err: Error) => log(`could not fetch the platform's keys yet (${err.message}); tasks wait for them`));
  const activities = createRunnerActivities({
    models,
    workerId,
    jobSlots,
    gatewayUrl: s.gatewayUrl,
    log,
    sequenceWaitMs: s.sequenceWaitMs,
    stallTimeoutMs: s.stallTimeoutMs,
    generate: testBuild?.generate,
    dispatchGuard,
    events: {
      jobStarted: (jobId) => {
        currentJobs.add(jobId);
        beatSoon();
      },
      jobEnded: (jobId) => {
        currentJobs.delete(jobId);
        beatSoon();
        // The job's Worker counts it as in flight until its result is sent, so look again after that.
        setTimeout(() => void reconcile(), 100).unref();
      },
      modelLoaded: (key) => {
        log(`loaded ${key} on demand`);
        void reconcile();
        beatSoon();
      },
    },
  });

  // One change of the queue set at a time: Worker.create is async.
  let reconciling = Promise.resolve();
  function reconcile(): Promise<void> {
    reconciling = reconciling.then(applyQueueSet, applyQueueSet);
    return reconciling;
  }

  async function applyQueueSet(): Promise<void> {
    if (stopping) return;
    const want = new Set(desiredQueues());
    for (const queue of want) {
      if (workers.has(queue)) continue;
      const worker = await Worker.create({
        connection,
        namespace: s.connection.namespace,
        taskQueue: queue,
        identity: workerId,
        activities,
        // One runner-wide count of jobs for all its Workers; the rest of the tuner is unused by an activity-only worker.
        tuner: {
          activityTaskSlotSupplier: jobSlots.supplier(),
          workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
          localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
          nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
        },
        activityTaskPollerBehavior: { type: 'simple-maximum', maximum: s.concurrency },
        shutdownGraceTime: s.shutdownGraceMs,
        // Cancellation reaches a runner in a heartbeat's answer; by default the SDK sends heartbeats as
        // rarely as 80% of the heartbeat timeout, which left a cancelled job generating for 1.4 s in tests.
        maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
      });
      const running = worker.run().catch((err) => {
        failed ??= err;
        shutdown();
      });
      workers.set(queue, { worker, running });
      void running.finally(() => {
        workers.delete(queue);
        // A paused runner has no Workers and stays up; only a stopping one is done.
        if (workers.size === 0 && stopping) wakeDone();
      });
    }
    // A Worker still running a job keeps it: stopping it would cancel the job after the grace time.
    for (const [queue, w] of workers) {
      if (!want.has(queue) && w.worker.getState() === 'RUNNING' && w.worker.getStatus().numInFlightActivities === 0) w.worker.shutdown();
    }
  }

  function shutdown(): void {
    if (stopping) return;
    stopping = true;
    for (const w of workers.values()) {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    }
    if (workers.size === 0) wakeDone();
  }

  await reconcile();
  let periodic: NodeJS.Timeout | undefined;
  const beatEvery = () => {
    // Not unref'd: a paused runner has no Workers, and this timer is what keeps it alive and listening.
    periodic = setTimeout(() => void beat().finally(() => stopping || beatEvery()), heartbeatEveryMs);
  };
  if (s.gatewayUrl) {
    // Polling now: say so at once, so routing counts this runner without waiting a whole interval.
    await beat();
    beatEvery();
  }
  // Worker.run() stops each worker on SIGINT/SIGTERM; this stops the rest of the runner with them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, shutdown);

  const done = (async () => {
    await allStopped;
    clearTimeout(periodic);
    await beat();
    await connection.close();
    for (const m of models.values()) await m.dispose();
    if (failed) throw failed;
  })();
  log(`serving ${[...models.keys()].join(', ')} as ${workerId} (tier ${tier}) at ${s.connection.address}, polling ${desiredQueues().join(', ')}`);
  return { workerId, tier, queues: () => [...workers.keys()], done, shutdown };
}

