/**
 * What a runner may ask of Temporal through the proxy: the calls an
 * activity worker makes, on the task queues it is entitled to, and nothing
 * else. Pure, so it is tested (and fuzzed) without a network.
 */
import { TRUST_TIERS, isTrustTier, runnerQueue, tierAtLeast, type TrustTier } from '@trd/protocol';
import { GrpcError, GrpcStatus } from './grpc-wire.js';

const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService/';

/**
 * - 'info': read-only calls the SDK makes when it connects and starts a worker.
 * - 'poll': long-polls for activity tasks; the task queue is checked.
 * - 'task': calls on a task the runner got (heartbeat, complete, fail, cancel);
 *   the task token must be one the proxy handed to this runner.
 * - 'worker': the worker's own lifecycle (its shutdown notice).
 */
export type RpcKind = 'info' | 'poll' | 'task' | 'worker';

export const RUNNER_RPCS: Readonly<Record<string, { kind: RpcKind; endsTask?: boolean }>> = {
  GetSystemInfo: { kind: 'info' },
  DescribeNamespace: { kind: 'info' },
  PollActivityTaskQueue: { kind: 'poll' },
  RecordActivityTaskHeartbeat: { kind: 'task' },
  RespondActivityTaskCompleted: { kind: 'task', endsTask: true },
  RespondActivityTaskFailed: { kind: 'task', endsTask: true },
  RespondActivityTaskCanceled: { kind: 'task', endsTask: true },
  ShutdownWorker: { kind: 'worker' },
  RecordWorkerHeartbeat: { kind: 'worker' },
};

/** The rule for a gRPC path, or PERMISSION_DENIED naming the call. */
export function ruleFor(path: string): { method: string; kind: RpcKind; endsTask: boolean } {
  const method = path.startsWith(SERVICE) ? path.slice(SERVICE.length) : null;
  const rule = method !== null && Object.hasOwn(RUNNER_RPCS, method) ? RUNNER_RPCS[method] : undefined;
  if (!method || !rule) {
    throw new GrpcError(GrpcStatus.PERMISSION_DENIED, `runners may not call ${method ?? path}: only an activity worker's calls pass this endpoint`);
  }
  return { method, kind: rule.kind, endsTask: rule.endsTask ?? false };
}

/** What one runner token is entitled to now. */
export interface Entitlement {
  runnerId: string;
  tier: TrustTier;
  /** Model keys it serves (from its heartbeats). */
  models: readonly string[];
  /** Set when the runner must be cut off (token revoked, shadowbanned): why. */
  cutOff: string | null;
  /** Set when the runner may take no new tasks but may finish its own (below the minimum version): why. */
  noNewWork?: string | null;
}

const MODEL_QUEUE = /^model\.([a-z0-9][a-z0-9._-]*)\.(warm|cold)\.([a-z]+)$/;

/** Why `ent` may not poll `queue`, or null when it may. */
export function queueProblem(ent: Entitlement, queue: string): string | null {
  if (queue === runnerQueue(ent.runnerId)) return null;
  const m = MODEL_QUEUE.exec(queue);
  if (!m) return `task queue ${JSON.stringify(queue)} is not a runner's queue`;
  const [, model, , tier] = m;
  if (!isTrustTier(tier)) return `task queue ${queue} names no trust tier (${TRUST_TIERS.join(', ')})`;
  if (!ent.models.includes(model)) return `runner ${ent.runnerId} does not serve ${model} (it serves ${ent.models.join(', ') || 'nothing yet'})`;
  if (!tierAtLeast(ent.tier, tier)) return `runner ${ent.runnerId} is ${ent.tier}; the ${tier} queues are not its to poll`;
  return null;
}
