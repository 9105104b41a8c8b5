/**
 * The floor (issue 18): what Temporal itself costs for the least a job could
 * be, on the same server as the platform and in the same run, so the
 * platform's figures can be read as ratios against it. A client of the
 * gateway's kind starts a one-activity workflow (./workflow.ts) hosted by a
 * workflow worker in this process (as the bench hosts the orchestrator); two
 * runner-like activity workers, each its own process (./runner.ts), poll one
 * model-like queue and answer a fixed text at once.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startProcess, type ManagedProcess } from '../../devstack/processes.js';
import { describeActivityQueue } from '../../dispatch/eligible.js';
import type { FloorAnswer } from './activities.js';

const WORKFLOW_QUEUE = 'floor.workflows';
const MODEL_QUEUE = 'floor.model.warm';
const RUNNERS = ['floor-left', 'floor-right'];

export interface FloorFigures {
  sequential: number;
  start_to_activity_started_ms: { p50: number; p99: number };
  start_to_result_ms: { p50: number; p99: number };
  burst: { jobs: number; jobs_per_s: number; split: Record<string, number> };
}

export function percentiles(xs: number[]): { p50: number; p99: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50: Number(at(0.5).toFixed(1)), p99: Number(at(0.99).toFixed(1)) };
}

export async function measureFloor(opts: { temporalAddress: string; namespace: string; jobs: number; sequential: number }): Promise<FloorFigures> {
  const { temporalAddress: address, namespace } = opts;
  const bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./workflow.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection: workerConnection, namespace, taskQueue: WORKFLOW_QUEUE, workflowBundle: bundle });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const runners: ManagedProcess[] = [];
  try {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    for (const id of RUNNERS) runners.push(startProcess(id, process.execPath, ['--import', 'tsx', 'scripts/floor/runner.ts', address, namespace, MODEL_QUEUE, id], { cwd: root }));
    await Promise.all(runners.map((r) => r.waitFor(/polling/, 60_000)));
    await waitForPollers(client, MODEL_QUEUE, RUNNERS);

    const job = async (i: number) => {
      const t0 = Date.now();
      const handle = await client.workflow.start('floorJob', { taskQueue: WORKFLOW_QUEUE, workflowId: `floor-${randomUUID()}`, args: [{ queue: MODEL_QUEUE, prompt: `floor ${i}` }] });
      const answer = (await handle.result()) as FloorAnswer;
      return { toStarted: answer.startedAt - t0, toResult: Date.now() - t0, workerId: answer.workerId };
    };
    // Warm-up: the first workflow tasks of a fresh queue pay for its creation.
    for (let i = 0; i < 5; i++) await job(i);
    const seq = [];
    for (let i = 0; i < opts.sequential; i++) seq.push(await job(i));

    const burstStarted = Date.now();
    const burst = await Promise.all(Array.from({ length: opts.jobs }, (_, i) => job(i)));
    const burstSeconds = (Date.now() - burstStarted) / 1000;
    const split: Record<string, number> = {};
    for (const b of burst) split[b.workerId] = (split[b.workerId] ?? 0) + 1;
    return {
      sequential: opts.sequential,
      start_to_activity_started_ms: percentiles(seq.map((s) => s.toStarted)),
      start_to_result_ms: percentiles(seq.map((s) => s.toResult)),
      burst: { jobs: opts.jobs, jobs_per_s: Number((opts.jobs / burstSeconds).toFixed(1)), split },
    };
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
    worker.shutdown();
    await running;
    await connection.close();
    await workerConnection.close();
  }
}

async function waitForPollers(client: Client, queue: string, identities: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await describeActivityQueue(client, queue);
    if (identities.every((id) => res.pollers?.some((p) => p.identity === id))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`floor runners ${identities.join(', ')} did not poll ${queue} within ${timeoutMs} ms`);
}
