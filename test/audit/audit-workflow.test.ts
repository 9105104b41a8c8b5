/**
 * Audits on the real platform (Temporal, PostgreSQL, `trd-worker` processes
 * running llama.cpp): every succeeded job is audited here, by prefill on a
 * trusted runner that did none of the jobs. An honest runner on probation
 * passes its audits, greedy and sampled; each of the three cheats (text from
 * another model, truncated and padded, an old answer replayed) fails, the
 * evidence is recorded and shown to its owner, and its reputation drops at
 * once (the verified one loses its tier). Also: which jobs the sample takes,
 * and an audit that cannot be performed holds nothing against the runner.
 *
 * A runner takes whatever job reaches its queues first, so the runners start
 * paused by their owners, each serves alone for its jobs and then stops; the
 * auditor serves last, and the audits wait for it. A trusted runner that
 * looks up but never picks work up is asked first, and passed over.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InferenceResult } from '@trd/protocol';
import { createAudits } from '../../activities/audit-activities.js';
import { samplingKey } from '../../audits/sampling.js';
import { auditSettings } from '../../audits/settings.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { auditWorkflowId, type AuditOutcome } from '../../platform/workflow-api.js';
import { NativeConnection, Worker } from '@temporalio/worker';
import { modelQueue } from '@trd/protocol';
import type { ManagedProcess } from '../../devstack/processes.js';
import { describeActivityQueue } from '../../dispatch/eligible.js';
import { fixedSigner } from '../../orchestrator/signing-keys.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

let stack: TestStack;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    audits: {
      rateBps: 10_000,
      method: 'prefill',
      limits: { scheduleToStartMs: 3000, heartbeatTimeoutMs: 10_000, verifyTimeoutMs: 20_000, deadlineMs: 90_000, maxAuditors: 3, auditorWaitMs: 300 },
    },
    // This file records the audit-job replay fixtures.
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
  });
});

afterAll(async () => {
  await stack?.stop();
});

const runner = (id: string) => stack.db.runner.findUniqueOrThrow({ where: { id } });
const me = async (id: string) => (await fetch(`${stack.baseUrl}/v1/runners/me`, { headers: { authorization: `Bearer ${tokens[id]}` } })).json() as Promise<any>;
const auditOf = (jobId: string) => stack.client.workflow.getHandle(auditWorkflowId(jobId)).result() as Promise<AuditOutcome>;

/** With TRD_RECORD_HISTORIES=1, commits this audit's history as a replay fixture (test/workflows/replay.test.ts replays it). */
async function recordHistory(name: string, jobId: string): Promise<void> {
  if (!process.env.TRD_RECORD_HISTORIES) return;
  const history = await stack.client.workflow.getHandle(auditWorkflowId(jobId)).fetchHistory();
  writeFileSync(`${HISTORIES}${name}.json`, `${historyToJSON(history)}\n`);
}

type Job = { prompt: string; temperature?: number; seed?: number };

/** Registers the runner paused by its owner and starts it: it polls nothing, so it takes no job and audits nothing, until `serve`. */
async function startPaused(workerId: string, tier: 'probation' | 'verified' | 'trusted', faults?: string): Promise<ManagedProcess> {
  tokens[workerId] = await createRunnerToken(stack.db, workerId, tier);
  await stack.db.runner.update({ where: { id: workerId }, data: { settings: { paused: true } } });
  return stack.startRunner({ workerId, token: tokens[workerId], env: faults ? { TRD_RUNNER_FAULTS: faults } : {} });
}

/** The owner lets the runner work again; resolves once it says so. */
async function serve(proc: ManagedProcess, workerId: string): Promise<void> {
  expect((await api(stack, 'PATCH', '/v1/runners/settings', { paused: false }, tokens[workerId])).status).toBe(200);
  await proc.waitFor(/taking jobs again/, 15_000);
}

/** The runner, alone, does these jobs one after another, and stops. Returns the job ids. */
async function jobsBy(proc: ManagedProcess, workerId: string, jobs: Job[]): Promise<string[]> {
  const ids: string[] = [];
  try {
    await serve(proc, workerId);
    // One after another: a replaying runner answers with an earlier answer.
    for (const j of jobs) {
      const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', max_tokens: 12, temperature: 0, ...j });
      expect(res.json).toMatchObject({ status: 'succeeded', worker_id: workerId });
      ids.push(res.json.id);
    }
  } finally {
    await proc.stop();
  }
  return ids;
}

describe('which jobs are audited', () => {
  test('every job of a runner on probation at the probation rate, others at the base rate; an audit that cannot be performed holds nothing', async () => {
    await createRunnerToken(stack.db, 'sample-new', 'probation');
    await createRunnerToken(stack.db, 'sample-old', 'verified');
    const settings = { ...auditSettings({}), rateBps: 0, probationRateBps: 10_000 };
    const audits = createAudits({
      db: stack.db,
      client: stack.client,
      dispatch: stack.settings.dispatch,
      settings: { ...settings, limits: { ...settings.limits, deadlineMs: 2000 } },
      samplingKey: samplingKey(randomBytes(32)),
      signer: fixedSigner(stack.signingKey),
      refreshReputation: async () => [],
    });
    const result = (workerId: string): InferenceResult => ({
      workerId,
      model: 'trd-tiny',
      modelSha256: '9c7a9e84c91e8d0a1d1e3463628b395b83ece9524fe5f0131586d51ac573ca71',
      text: 'claimed',
      promptTokens: 3,
      completionTokens: 2,
      finishReason: 'stop',
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      timings: { modelLoadMs: 0, timeToFirstTokenMs: 1, generationMs: 1 },
    });
    expect(await audits.auditIfSampled('job_sample_old', result('sample-old'))).toBe(false);
    expect(await audits.auditIfSampled('job_sample_nobody', result('not-registered'))).toBe(false);
    for (const id of ['job_sample_old', 'job_sample_nobody']) {
      await expect(stack.client.workflow.getHandle(auditWorkflowId(id)).describe()).rejects.toThrow(/not found/i);
    }
    // A retried activity starts the same audit once.
    expect(await audits.auditIfSampled('job_sample_new', result('sample-new'))).toBe(true);
    expect(await audits.auditIfSampled('job_sample_new', result('sample-new'))).toBe(true);
    // No such job ran, so there is nothing to check: the audit ends unperformed and records nothing.
    expect(await auditOf('job_sample_new')).toEqual({ status: 'not-performed', reason: expect.stringContaining('has no workflow history') });
    expect(await audits.auditIfSampled('job_sample_new', result('sample-new'))).toBe(true);
    expect(await stack.db.runnerAudit.count({ where: { runnerId: 'sample-new' } })).toBe(0);
  });
});

/**
 * A registered trusted runner that heartbeats and polls the model's trusted
 * queue but not its own queue, so an audit sent to it is never picked up.
 */
async function startGhostAuditor(): Promise<() => Promise<void>> {
  const id = 'ghost-auditor';
  await createRunnerToken(stack.db, id, 'trusted');
  const beat = () => stack.db.runner.update({ where: { id }, data: { state: 'idle', loadedModels: ['trd-tiny'], slots: 1, runningJobs: 0, reputationScore: 100, lastHeartbeatAt: new Date() } });
  await beat();
  const beating = setInterval(() => void beat(), 500);
  const connection = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: stack.namespace,
    taskQueue: modelQueue('trd-tiny', 'warm', 'trusted'),
    identity: id,
    activities: { runInference: async () => { throw new Error('the ghost runs nothing'); } },
  });
  const running = worker.run();
  // Listed as a poller of the queue before any audit looks.
  for (let i = 0; i < 50 && !(await describeActivityQueue(stack.client, modelQueue('trd-tiny', 'warm', 'trusted'))).pollers?.some((p) => p.identity === id); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return async () => {
    clearInterval(beating);
    worker.shutdown();
    await running;
    await connection.close();
  };
}

describe('audits by a trusted runner', () => {
  const jobs: Record<string, string[]> = {};
  const outcomes: Record<string, AuditOutcome[]> = {};
  let ghost: (() => Promise<void>) | undefined;

  afterAll(async () => {
    await ghost?.();
  });

  beforeAll(async () => {
    // Every runner starts at once, paused: one start-up's time instead of five. Then each does its jobs alone (a runner
    // takes whatever reaches its queues first) and stops; the audits wait for the auditor, which serves last.
    const plan: Array<{ id: string; tier: 'probation' | 'verified'; faults?: string; jobs: Job[] }> = [
      // The verified cheat goes first: while it is up no audit is waiting, so it is never asked to audit (a verified runner may be, when no trusted one is up).
      { id: 'cheat-other', tier: 'verified', faults: 'cheat=other-model', jobs: [{ prompt: 'Answer with the model you were asked for' }] },
      { id: 'honest', tier: 'probation', jobs: [{ prompt: 'An honest answer' }, { prompt: 'A sampled answer', temperature: 0.8, seed: 7 }] },
      { id: 'cheat-pad', tier: 'probation', faults: 'cheat=truncate-pad', jobs: [{ prompt: 'Write twelve tokens' }] },
      // Its first answer is honest (there is nothing to replay yet); the second is the first again.
      { id: 'cheat-replay', tier: 'probation', faults: 'cheat=replay', jobs: [{ prompt: 'Tell me about rivers' }, { prompt: 'What is 7 times 8? Reply with a number.' }] },
    ];
    const [auditor, ...procs] = await Promise.all([startPaused('auditor', 'trusted'), ...plan.map((p) => startPaused(p.id, p.tier, p.faults))]);
    for (const [i, p] of plan.entries()) jobs[p.id] = await jobsBy(procs[i], p.id, p.jobs);
    // A trusted runner that looks up (heartbeats, polls the model's queue) but never takes work from its own queue, as one
    // that hung would: ranked first, it is asked first, and each audit moves on to the next auditor when it does not pick up.
    ghost = await startGhostAuditor();
    await serve(auditor, 'auditor');
    for (const [id, ids] of Object.entries(jobs)) outcomes[id] = await Promise.all(ids.map(auditOf));
  });

  test('an honest runner on probation passes its audits, greedy and sampled, and its owner sees them with the evidence', async () => {
    expect(outcomes.honest).toEqual([expect.objectContaining({ status: 'passed', auditorId: 'auditor' }), expect.objectContaining({ status: 'passed', auditorId: 'auditor' })]);
    const view = await me('honest');
    expect(view.audits).toMatchObject({ passed: 2, failed: 0 });
    expect(view.audits.recent.map((a: any) => a.job_id).sort()).toEqual([...jobs.honest].sort());
    for (const a of view.audits.recent) {
      expect(a).toMatchObject({ id: auditWorkflowId(a.job_id), passed: true, evidence: { method: 'prefill', auditorId: 'auditor', passed: true, mismatch: null } });
      expect(a.evidence.tokensChecked).toBeGreaterThan(0);
      expect(a.detail).toMatch(/^prefill check by auditor passed: \d+ claimed token\(s\) checked in \d+ ms$/);
    }
    expect(await runner('honest')).toMatchObject({ tier: 'probation', shadowbannedReason: null });
    // The ghost was asked first and did not take it; the audit went on to the next auditor.
    const history = await stack.client.workflow.getHandle(auditWorkflowId(jobs.honest[0])).fetchHistory();
    const timedOut = history.events!.filter((e) => e.activityTaskTimedOutEventAttributes);
    expect(timedOut).toHaveLength(1);
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verifyInference');
    expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name)).toEqual(['runner.ghost-auditor', 'runner.auditor']);
    await recordHistory('audit-job-passed', jobs.honest[0]);
  });

  test.each([
    ['cheat-other', 'text from another model'],
    ['cheat-pad', 'truncated and padded'],
    ['cheat-replay', 'an earlier answer replayed'],
  ])('%s (%s) fails its audit; the evidence is recorded, shown to its owner, and its reputation drops at once', async (id) => {
    const failed = outcomes[id].filter((o) => o.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ auditorId: 'auditor', detail: expect.stringMatching(/^prefill check by auditor failed: /) });
    // The replaying runner's first answer was its own; its second is the first again.
    expect(outcomes[id].filter((o) => o.status === 'passed')).toHaveLength(jobs[id].length - 1);
    if (id === 'cheat-replay') {
      const [first, second] = await Promise.all(jobs[id].map((j) => stack.db.job.findUniqueOrThrow({ where: { id: j } })));
      expect(second.output).toBe(first.output);
    }

    const view = await me(id);
    expect(view.audits.failed).toBe(1);
    const shown = view.audits.recent.find((a: any) => !a.passed);
    expect(shown.detail).toBe(failed[0].status === 'failed' && failed[0].detail);
    // The evidence: who checked, how, and where the claim departs from the model, with the claimed token's probability.
    expect(shown.evidence).toMatchObject({ method: 'prefill', auditorId: 'auditor', passed: false, reason: expect.any(String), claimedModelSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(shown.evidence.mismatch).toMatchObject({ tokenIndex: expect.any(Number), textOffset: expect.any(Number), claimedToken: expect.any(String), expectedToken: expect.any(String) });
    expect(shown.evidence.mismatch.claimedToken).not.toBe(shown.evidence.mismatch.expectedToken);
    expect(shown.evidence.mismatch.claimedProbability).toBeLessThan(1);
    expect(shown.detail).toContain(`first wrong token at index ${shown.evidence.mismatch.tokenIndex}`);
    expect(shown.evidence.verifyMs).toBeGreaterThanOrEqual(0);

    // Recomputed when the audit was recorded, not at the next sweep: a failed audit weighs at least a fifth of the audit factor.
    const r = await runner(id);
    expect(r.reputationAt!.getTime()).toBeGreaterThanOrEqual(new Date(shown.at).getTime());
    expect(r.reputationScore).toBeLessThanOrEqual(95);
    expect(view.reputation_score).toBe(r.reputationScore);
    // A failed audit within the clean period demotes: the verified cheat is on probation now.
    expect(r.tier).toBe('probation');
    if (id === 'cheat-pad') await recordHistory('audit-job-failed', jobs[id][0]);

    // The owner's dashboard shows it too, with the evidence.
    await stack.db.runner.update({ where: { id }, data: { ownerId: (await stack.db.customer.findFirstOrThrow()).id } });
    const overview = (await api(stack, 'POST', '/v1/owner/session', { api_key: stack.apiKey }, null)).json;
    expect(overview.runners.find((x: any) => x.id === id).audits).toEqual({
      passed: jobs[id].length - 1,
      failed: 1,
      last_failed: { id: shown.id, job_id: shown.job_id, detail: shown.detail, evidence: shown.evidence, at: shown.at },
    });
  });
});
