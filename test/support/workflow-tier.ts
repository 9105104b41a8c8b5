/**
 * The workflow test tier: the real job workflow (the bundle from global
 * setup) on the real Temporal dev server, with stub activities. The test's
 * own Worker hosts the workflow and stub platform activities on the
 * orchestrator queue; stub runners are activity Workers on the model and
 * runner queues, so routing, timeouts, retries and cancellation are
 * Temporal's own. No database, no runner process: a test takes seconds.
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { ORCHESTRATOR_QUEUE, workflowIdForJob, type InferenceResult, type InferenceTask, type SignedReceipt } from '@trd/protocol';
import { runnerAttemptTaken, type DispatchActivities, type ProgressAdvice, type ProgressCheck } from '../../activities/dispatch-activities.js';
import type { PlatformActivities } from '../../activities/platform-activities.js';
import type { ReceiptActivities } from '../../activities/receipt-activities.js';
import type { UpstreamActivities, UpstreamCall, UpstreamResult } from '../../activities/upstream-activities.js';
import { UpstreamErrors } from '../../cascade/tiers.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { describeActivityQueue } from '../../dispatch/eligible.js';
import type { JobInput, JobLimits, JobOutcome } from '../../workflows/inference-job.js';
import { quietTemporalLogs, serviceEndpoints, testNamespace } from './stack.js';

/** Short bounds: every path of the workflow ends within a few seconds. */
export const STUB_JOB_LIMITS: JobLimits = {
  heartbeatTimeoutMs: 1000,
  deadlineMs: 20_000,
  maxAttempts: 3,
  retryInitialIntervalMs: 100,
  warmWaitMs: 500,
  progressCheckMs: 200,
  longJobGraceMs: 0,
};

/** What the stub platform answers for one job; unset answers are "no advice". */
export interface Advice {
  hasColdRunners?: () => boolean | Promise<boolean>;
  checkProgress?: (c: ProgressCheck) => ProgressAdvice | Promise<ProgressAdvice>;
  pickRunner?: (exclude: string[]) => string | null;
  /** An upstream tier's answer (the cascade; `attempt` counts from 1 per tier); unset: the tier is not configured. */
  callUpstream?: (call: UpstreamCall, attempt: number) => UpstreamResult | Promise<UpstreamResult>;
}

type Stubbed = Pick<ReceiptActivities, 'signDispatch' | 'signReceipt' | 'appendToChain'> & PlatformActivities & DispatchActivities & UpstreamActivities;
export type Call = { [K in keyof Stubbed]: { name: K; arg: Parameters<Stubbed[K]>[0] } }[keyof Stubbed];

export interface StubJob {
  jobId: string;
  input: JobInput;
  handle: WorkflowHandle;
  result(): Promise<JobOutcome>;
  /** Every stub platform activity the workflow called for this job, in order. */
  calls(): Call[];
  callsTo<K extends Call['name']>(name: K): Extract<Call, { name: K }>['arg'][];
}

export type RunInference = (task: InferenceTask) => Promise<InferenceResult>;

export interface WorkflowTier {
  client: Client;
  /** Starts an inference job on the orchestrator queue, as the gateway does. */
  startJob(input?: Partial<Omit<JobInput, 'limits'>> & { limits?: Partial<JobLimits> }, advice?: Advice): Promise<StubJob>;
  /** An activity worker polling `queue` as `workerId` (with `slots` tasks at a time), until the test ends; resolves once Temporal lists its poller. */
  runner(queue: string, workerId: string, runInference: RunInference, opts?: { slots?: number }): Promise<{ stop(): Promise<void> }>;
  /** The job's runInference activities, in order: queue, schedule-to-start and schedule-to-close bounds, when scheduled (epoch ms). */
  scheduled(job: StubJob): Promise<Array<{ queue: string; scheduleToStartMs: number; scheduleToCloseMs: number; at: number }>>;
}

let models = 0;

/** A model key no other test uses, so no two tests share a queue. */
export function freshModel(): string {
  return `stub-${process.pid}-${++models}`;
}

/** The workflow Worker for this file's tests, started before them and stopped after them. */
export function useWorkflowTier(): WorkflowTier {
  const calls = new Map<string, Call[]>();
  const advice = new Map<string, Advice>();
  const runners: Array<{ worker: Worker; running: Promise<void> }> = [];
  let connection: NativeConnection;
  let clientConnection: Connection;
  let client: Client;
  let orchestrator: { worker: Worker; running: Promise<void> };

  const record = <K extends Call['name']>(name: K, jobId: string, arg: Extract<Call, { name: K }>['arg']) => {
    if (!calls.has(jobId)) calls.set(jobId, []);
    calls.get(jobId)!.push({ name, arg } as Call);
  };
  const stubs: Stubbed = {
    async signDispatch(d) {
      record('signDispatch', d.jobId, d);
      const promptSha256 = 'promptSha256' in d ? d.promptSha256 : '';
      const claims = { v: 1, kid: 'stub', job_id: d.jobId, model: d.model, prompt_sha256: promptSha256, attempt: d.attempt, issued_at: new Date().toISOString(), expires_at: d.expiresAt } as const;
      return { claims, signature: 'stub' };
    },
    async signReceipt(req) {
      record('signReceipt', req.jobId, req);
      return stubReceipt(req.jobId);
    },
    async appendToChain(req) {
      record('appendToChain', req.jobId, req);
      return { receipt: stubReceipt(req.jobId) } as Awaited<ReturnType<Stubbed['appendToChain']>>;
    },
    async recordJobSucceeded(s) {
      record('recordJobSucceeded', s.jobId, s);
    },
    async recordJobCancelled(c) {
      record('recordJobCancelled', c.jobId, c);
    },
    async recordAttempt(a) {
      record('recordAttempt', a.jobId, a);
    },
    async recordJobFailed(f) {
      record('recordJobFailed', f.jobId, f);
    },
    async hasColdRunners(q) {
      const jobId = jobOfModel(q.model);
      record('hasColdRunners', jobId, q);
      const cold = (await advice.get(jobId)?.hasColdRunners?.()) ?? false;
      // As the platform's activity answers: a job a runner has taken is not moved.
      return cold && !(q.unstartedJobId && (await runnerAttemptTaken(client, q.unstartedJobId)));
    },
    async checkProgress(c) {
      record('checkProgress', c.jobId, c);
      return (await advice.get(c.jobId)?.checkProgress?.(c)) ?? { action: 'wait', recheckAfterMs: c.checkEveryMs };
    },
    async callUpstream(call) {
      record('callUpstream', call.jobId, call);
      const answer = advice.get(call.jobId)?.callUpstream;
      if (!answer) throw ApplicationFailure.nonRetryable(`no upstream tier ${call.tier} here`, UpstreamErrors.NotConfigured);
      return answer(call, Context.current().info.attempt);
    },
    async pickRunner(q) {
      const jobId = jobOfModel(q.model);
      record('pickRunner', jobId, q);
      return advice.get(jobId)?.pickRunner?.(q.exclude) ?? null;
    },
  };
  // hasColdRunners and pickRunner are asked by model; every job here has a model of its own.
  const modelJobs = new Map<string, string>();
  const jobOfModel = (model: string) => modelJobs.get(model) ?? `unknown-model-${model}`;

  beforeAll(async () => {
    quietTemporalLogs();
    const { temporalAddress, workflowBundlePath } = serviceEndpoints();
    const namespace = testNamespace();
    connection = await NativeConnection.connect({ address: temporalAddress });
    clientConnection = await Connection.connect({ address: temporalAddress });
    client = new Client({ connection: clientConnection, namespace });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: ORCHESTRATOR_QUEUE,
      workflowBundle: { codePath: workflowBundlePath },
      activities: stubs,
    });
    orchestrator = { worker, running: worker.run() };
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map(stopWorker));
  });

  afterAll(async () => {
    await Promise.all(runners.splice(0).map(stopWorker));
    if (orchestrator) await stopWorker(orchestrator);
    await clientConnection?.close();
    await connection?.close();
  });

  return {
    get client() {
      return client;
    },
    async startJob(overrides = {}, jobAdvice = {}) {
      const jobId = overrides.jobId ?? `job_${randomUUID().replace(/-/g, '')}`;
      const input: JobInput = {
        jobId,
        customerId: 'cus_stub',
        model: freshModel(),
        prompt: 'stub prompt',
        promptSha256: 'a'.repeat(64),
        maxTokens: 5,
        temperature: 0,
        minTier: 'probation',
        creditsPerHour: 36,
        acceptedAt: new Date().toISOString(),
        ...overrides,
        limits: { ...STUB_JOB_LIMITS, ...overrides.limits },
      };
      modelJobs.set(input.model, jobId);
      advice.set(jobId, jobAdvice);
      const handle = await client.workflow.start('inferenceJob', { taskQueue: ORCHESTRATOR_QUEUE, workflowId: workflowIdForJob(jobId), args: [input] });
      return {
        jobId,
        input,
        handle,
        result: () => handle.result() as Promise<JobOutcome>,
        calls: () => [...(calls.get(jobId) ?? [])],
        callsTo: (name) => (calls.get(jobId) ?? []).filter((c) => c.name === name).map((c) => c.arg) as never,
      };
    },
    async runner(queue, workerId, runInference, opts = {}) {
      const worker = await Worker.create({
        connection,
        namespace: testNamespace(),
        taskQueue: queue,
        identity: workerId,
        activities: { runInference },
        ...(opts.slots ? { maxConcurrentActivityTaskExecutions: opts.slots } : {}),
        shutdownGraceTime: '200 ms',
      });
      const entry = { worker, running: worker.run() };
      runners.push(entry);
      await waitForPoller(client, queue, workerId);
      return {
        async stop() {
          runners.splice(runners.indexOf(entry), 1);
          await stopWorker(entry);
        },
      };
    },
    async scheduled(job) {
      const history = await job.handle.fetchHistory();
      return history
        .events!.filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => {
          const a = e.activityTaskScheduledEventAttributes!;
          return { queue: a.taskQueue!.name!, scheduleToStartMs: ms(a.scheduleToStartTimeout), scheduleToCloseMs: ms(a.scheduleToCloseTimeout), at: ms(e.eventTime) };
        });
    },
  };
}

/** A protobuf duration or timestamp in milliseconds (0 when absent). */
function ms(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return d ? Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6) : 0;
}

async function stopWorker(entry: { worker: Worker; running: Promise<void> }): Promise<void> {
  if (entry.worker.getState() === 'RUNNING') entry.worker.shutdown();
  await entry.running;
}

async function waitForPoller(client: Client, queue: string, identity: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await describeActivityQueue(client, queue);
    if (res.pollers?.some((p) => p.identity === identity)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${identity} did not poll ${queue} within ${timeoutMs} ms`);
}

function stubReceipt(jobId: string): SignedReceipt {
  return { envelope: { job_id: jobId }, signature: 'stub' } as unknown as SignedReceipt;
}

/** A runner's honest answer to `task`: `tokens` tokens (max_tokens by default), finished for length only at max_tokens. */
export function answer(task: InferenceTask, workerId: string, opts: { tokens?: number; computeMs?: number } = {}): InferenceResult {
  const tokens = opts.tokens ?? task.maxTokens;
  const now = Date.now();
  const computeMs = opts.computeMs ?? 10;
  return {
    workerId,
    model: task.model,
    modelSha256: 'b'.repeat(64),
    text: ' ok'.repeat(tokens),
    promptTokens: 3,
    completionTokens: tokens,
    finishReason: tokens === task.maxTokens ? 'length' : 'stop',
    startedAt: new Date(now - computeMs).toISOString(),
    finishedAt: new Date(now).toISOString(),
    timings: { modelLoadMs: 0, timeToFirstTokenMs: Math.floor(computeMs / 2), generationMs: Math.ceil(computeMs / 2) },
  };
}

/** An upstream tier's honest answer to `call`: `tokens` completion tokens, as `provider:<tier>`. */
export function upstreamAnswer(call: UpstreamCall, opts: { tokens?: number; promptTokens?: number; answerMs?: number } = {}): UpstreamResult {
  const tokens = opts.tokens ?? call.maxTokens;
  const now = Date.now();
  const answerMs = opts.answerMs ?? 20;
  return {
    servedBy: `provider:${call.tier}`,
    upstreamModel: `${call.tier}-model`,
    model: call.model,
    text: ' up'.repeat(tokens),
    promptTokens: opts.promptTokens ?? 7,
    completionTokens: tokens,
    finishReason: tokens === call.maxTokens ? 'length' : 'stop',
    startedAt: new Date(now - answerMs).toISOString(),
    finishedAt: new Date(now).toISOString(),
    timings: { modelLoadMs: 0, timeToFirstTokenMs: 5, generationMs: answerMs - 5 },
  };
}
