/**
 * The runner process: load the model, then poll its task queue as an
 * activity-only Temporal worker. It never runs workflow code and holds no
 * platform secret.
 */
import { Worker } from '@temporalio/worker';
import { taskQueueForModel } from '@trd/protocol';
import { createRunnerActivities } from './activities.js';
import { connect, type ConnectionSettings } from './connection.js';
import { InferenceEngine } from './engine.js';
import { parseRunnerFaults } from './faults.js';
import { resolveModel } from './model-files.js';

export interface RunnerSettings {
  model: string;
  modelKey?: string;
  modelsDir: string;
  workerId: string;
  threads: number;
  concurrency: number;
  /** How long a shutdown waits for the job in flight before handing it back. */
  shutdownGraceMs: number;
  connection: ConnectionSettings;
}

export interface RunningRunner {
  queue: string;
  modelSha256: string;
  /** Resolves when the worker has stopped (after SIGINT/SIGTERM or shutdown()). */
  done: Promise<void>;
  shutdown(): void;
}

export async function startRunner(s: RunnerSettings, log: (line: string) => void): Promise<RunningRunner> {
  const faults = parseRunnerFaults(process.env.TRD_RUNNER_FAULTS);
  if (faults) log(`WARNING: fault injection is on (TRD_RUNNER_FAULTS=${process.env.TRD_RUNNER_FAULTS}); this runner misbehaves on purpose`);
  const model = await resolveModel(s.model, { modelsDir: s.modelsDir, keyOverride: s.modelKey });
  const engine = await InferenceEngine.load({ modelPath: model.path, sequences: s.concurrency, threads: s.threads });
  log(`loaded ${model.key} from ${model.path} in ${engine.loadMs} ms (sha256 ${model.sha256.slice(0, 12)}…, ${s.threads} thread(s))`);
  const connection = await connect(s.connection);
  const queue = taskQueueForModel(model.key);
  const worker = await Worker.create({
    connection,
    namespace: s.connection.namespace,
    taskQueue: queue,
    identity: s.workerId,
    activities: createRunnerActivities({ engine, model, workerId: s.workerId, faults }),
    maxConcurrentActivityTaskExecutions: s.concurrency,
    shutdownGraceTime: s.shutdownGraceMs,
  });
  const done = (async () => {
    try {
      await worker.run();
    } finally {
      await connection.close();
      await engine.dispose();
    }
  })();
  log(`serving ${model.key} on queue ${queue} at ${s.connection.address} as ${s.workerId}`);
  return { queue, modelSha256: model.sha256, done, shutdown: () => worker.shutdown() };
}
