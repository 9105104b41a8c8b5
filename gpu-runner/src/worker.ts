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
import { modelQueue, runnerQueue, tiersUpTo, type TrustTier } from '@trd/protocol';
import { createRunnerActivities } from './activities.js';
import { checkSignedCatalog } from './catalog-check.js';
import { connect, type ConnectionSettings } from './connection.js';
import { installedGenerationWrapper } from './generation-wrapper.js';
import { gatewayDispatchGuard, keysRefreshMs } from './dispatch-guard.js';
import { sendHeartbeat, type RunnerHeartbeat } from './gateway-client.js';
import { GatewaySync } from './gateway-sync.js';
import { JobSlots } from './job-slots.js';
import { resolveModel } from './model-files.js';
import { QueueSet } from './queue-set.js';
import { ServedModel } from './served-model.js';
import { ServingState } from './serving-state.js';
import { OUTSIDE_SCHEDULE } from './owner-settings.js';
import { RUNNER_VERSION } from './version.js';

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
  const models = await resolveModels(s, testBuild?.loadDelayMs);

  const currentJobs = new Set<string>();
  const jobSlots = new JobSlots(s.concurrency);
  const state = new ServingState(s.workerId ?? '', s.concurrency, jobSlots, log);
  let queueSet: QueueSet | null = null;
  const stopping = () => queueSet?.stopping ?? false;
  /** The models it serves now: all it has, or those of them on the owner's whitelist. */
  const served = () => [...models.values()].filter((m) => state.serves(m.key));
  /** Sampled before each heartbeat through a loaded model's llama.cpp; null without a GPU or a loaded model. */
  let freeVramMiB: number | null = null;
  const heartbeat = (): RunnerHeartbeat => ({
    state: stopping() ? 'stopping' : state.pausedFor ? 'paused' : currentJobs.size > 0 ? 'busy' : 'idle',
    loaded_models: served().filter((m) => m.loaded).map((m) => m.key),
    disk_models: served().filter((m) => !m.loaded).map((m) => m.key),
    running_jobs: currentJobs.size,
    current_jobs: [...currentJobs],
    slots: jobSlots.limit,
    free_vram_mib: freeVramMiB,
    state_reason: stopping() ? null : state.pausedFor,
    runner_version: RUNNER_VERSION,
  });

  const token = s.connection.token;
  if (s.gatewayUrl) {
    if (!token) throw new Error('--gateway-url needs --token (the runner token the gateway issued)');
    const answer = await sendHeartbeat(s.gatewayUrl, token, { ...heartbeat(), state: 'starting' });
    if (s.workerId && s.workerId !== answer.runner_id) {
      throw new Error(`--worker-id ${s.workerId} does not match this token's runner, ${answer.runner_id}; drop --worker-id`);
    }
    state.greet(answer);
    await checkSignedCatalog(s.gatewayUrl, [...models.values()].map((m) => m.model));
  }
  const workerId = state.workerId;
  if (!workerId) throw new Error('no worker id: pass --worker-id, or --gateway-url and --token so the gateway names this runner');

  if (s.load === 'on-start') {
    for (const m of models.values()) {
      const { engine } = await m.ensureLoaded();
      log(`loaded ${m.key} from ${m.model.path} in ${engine.loadMs} ms (sha256 ${m.model.sha256.slice(0, 12)}…, ${s.threads} thread(s))`);
    }
  }

  const connection = await connect(s.connection);
  state.apply();
  const desiredQueues = (): string[] => {
    if (state.pausedFor) return [];
    const queues = [runnerQueue(workerId)];
    for (const m of served()) {
      for (const t of tiersUpTo(state.tier)) queues.push(modelQueue(m.key, m.loaded ? 'warm' : 'cold', t));
    }
    return queues;
  };
  const reconcile = () => queueSet!.reconcile();
  const shutdown = () => queueSet!.shutdown();
  let gateway: GatewaySync | null = null;
  /**
   * Memory follows the owner's settings (scale-to-zero): outside the schedule no model stays loaded, and a model
   * taken off the whitelist is unloaded, each once no job holds it; back inside, an on-start runner loads them
   * again in the background, so the heartbeat says cold (on disk) until it is warm.
   */
  const fitMemory = async () => {
    for (const m of models.values()) {
      const why = state.outsideSchedule ? `${OUTSIDE_SCHEDULE} (scale-to-zero)` : !state.serves(m.key) ? "not on the owner's model list" : null;
      if (why) {
        if (m.loaded && (await m.unloadIfUnused())) {
          log(`unloaded ${m.key}: ${why}`);
          await reconcile();
          gateway?.beatSoon();
        }
      } else if (!m.loaded && !m.isLoading && s.load === 'on-start' && !state.pausedFor && !stopping()) {
        void m.ensureLoaded().then(
          async ({ engine }) => {
            log(`loaded ${m.key} again in ${engine.loadMs} ms`);
            await reconcile();
            gateway?.beatSoon();
          },
          (err: Error) => log(`could not load ${m.key} again: ${err.message}`),
        );
      }
    }
  };

  gateway =
    s.gatewayUrl && token
      ? new GatewaySync({
          url: s.gatewayUrl,
          token,
          state,
          log,
          body: heartbeat,
          beforeBeat: async () => {
            const engine = [...models.values()].find((m) => m.loaded)?.loaded;
            freeVramMiB = engine ? await engine.freeVramMiB() : null;
          },
          afterAnswer: async () => {
            await reconcile();
            await fitMemory();
          },
          onRejected: shutdown,
          stopping,
        })
      : null;

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
        gateway?.beatSoon();
      },
      jobEnded: (jobId) => {
        currentJobs.delete(jobId);
        gateway?.beatSoon();
        // The job's Worker counts it as in flight until its result is sent, so look again after that.
        setTimeout(() => void reconcile(), 100).unref();
      },
      modelLoaded: (key) => {
        log(`loaded ${key} on demand`);
        void reconcile();
        gateway?.beatSoon();
      },
    },
  });
  queueSet = new QueueSet({
    connection,
    namespace: s.connection.namespace,
    identity: workerId,
    activities,
    jobSlots,
    concurrency: s.concurrency,
    shutdownGraceMs: s.shutdownGraceMs,
    desired: desiredQueues,
  });
  const queues = queueSet;

  await reconcile();
  if (gateway) {
    // Polling now: say so at once, so routing counts this runner without waiting a whole interval.
    await gateway.beat();
    gateway.beatEvery();
  }
  // Worker.run() stops each worker on SIGINT/SIGTERM; this stops the rest of the runner with them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, shutdown);

  const done = (async () => {
    await queues.stopped;
    gateway?.stop();
    await gateway?.beat();
    await connection.close();
    for (const m of models.values()) await m.dispose();
    if (queues.failed) throw queues.failed;
  })();
  log(`serving ${[...models.keys()].join(', ')} as ${workerId} (tier ${state.tier}) at ${s.connection.address}, polling ${desiredQueues().join(', ')}`);
  return { workerId, tier: state.tier, queues: () => queues.queues(), done, shutdown };
}

/** The models to serve, each resolved to its file (a catalog key, or a GGUF path) and not yet loaded. */
async function resolveModels(s: RunnerSettings, extraLoadDelayMs: number | undefined): Promise<Map<string, ServedModel>> {
  if (s.models.length === 0) throw new Error('no model to serve: pass --model <key|path>');
  if (s.modelKey && s.models.length > 1) throw new Error('--model-key names the key of one GGUF file; pass one --model with it');
  const models = new Map<string, ServedModel>();
  for (const spec of s.models) {
    const model = await resolveModel(spec, { modelsDir: s.modelsDir, keyOverride: s.modelKey });
    if (models.has(model.key)) throw new Error(`model ${model.key} is given twice`);
    models.set(model.key, new ServedModel(model, { sequences: s.concurrency, threads: s.threads, contextSize: s.contextSize, extraLoadDelayMs }));
  }
  return models;
}
