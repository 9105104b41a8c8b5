/**
 * Replay: the current workflow code must replay the histories committed in
 * test/fixtures/histories (recorded from real runs), and a reordered workflow
 * must not. inference-job-v1-* were recorded before warm and cold routing
 * (no `dispatch-v2` marker): jobs in flight at that change still finish.
 * To record new fixtures of the current version from this run:
 *   TRD_RECORD_HISTORIES=1 npm test -- test/workflows/replay.test.ts
 * payout-settlement-usdc (the `usdc-payouts` patch) needs the local EVM node, so
 * test/economy/usdc-payouts records it with TRD_RECORD_HISTORIES=1; so does
 * reputation-sweep-token (the `reputation-token` patch: a sweep that mints two
 * tokens), recorded by test/chain/reputation-sweep-token.
 * Audit histories need an auditor and an audited runner, so the audit test
 * records them (TRD_RECORD_HISTORIES=1 npm test -- test/audit/audit-workflow.test.ts);
 * agent-review-* come from test/marketplace/agent-review.test.ts the same way.
 * inference-job-kept-place* (a warm attempt kept scheduled past the warm wait,
 * `keep-queue-place`) come from the workflow tier, where the routing paths are
 * (TRD_RECORD_HISTORIES=1 npm test -- test/workflows/job-routing.test.ts);
 * a cascade job needs an upstream platform, so the cascade test records
 * inference-job-cascade (TRD_RECORD_HISTORIES=1 npm test -- test/cascade/cascade-e2e.test.ts);
 * inference-job-proof (a job that asked for a proof of work, `proof-pinned`) comes from
 * TRD_RECORD_HISTORIES=1 npm test -- test/receipts/proof-of-work.test.ts.
 * attestation-exchange, countersign-attestation and inference-job-pod (a job a peer pod served) need
 * two pods, so the federation test records them (TRD_RECORD_HISTORIES=1 npm test -- test/federation/attestations.test.ts).
 * warm-pool-credits (a run that credited a live runner's idle minute) comes from
 * TRD_RECORD_HISTORIES=1 npm test -- test/economy/warm-pool.test.ts; sign-runner-decisions from
 * TRD_RECORD_HISTORIES=1 npm test -- test/dashboard/decisions.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workflowIdForJob } from '@trd/protocol';
import { PAYOUT_SCHEDULE_ID, REPUTATION_SCHEDULE_ID, chainWorkflowId, pinWorkflowId } from '../../platform/workflow-api.js';
import { PLATFORM_REVENUE, ownerAccount, postTransaction } from '../../economy/ledger.js';
import { platformDataConverter } from '../../platform/payload-encryption.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { startStripeFake, type StripeFake } from '../support/stripe-fake.js';
import { runScheduled } from '../support/schedules.js';
import { api, serviceEndpoints, startStack, waitForJob, type TestStack } from '../support/stack.js';

const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const REORDERED = fileURLToPath(new URL('../fixtures/workflows/reordered-inference-job.ts', import.meta.url));
// Fixtures since payload sealing are sealed with the test-only key; older ones are plain, which the codec passes through.
const bundle = () => ({ workflowBundle: { codePath: serviceEndpoints().workflowBundlePath }, dataConverter: platformDataConverter(FIXTURE_PAYLOAD_KEYS) });

let stack: TestStack;
let stripe: StripeFake;
const live: Record<string, unknown> = {};

async function historyOf(jobId: string) {
  return stack.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
}

beforeAll(async () => {
  // Two appends per chain run and a short idle time: the session below continues as new once, then completes.
  stripe = await startStripeFake('sk_test_replay');
  stack = await startStack({
    jobLimits: { deadlineMs: 1500 },
    receipts: { chain: { maxAppendsPerRun: 2, idleMs: 3000 } },
    payouts: { stripe: { secretKey: 'sk_test_replay', apiUrl: stripe.url.href, webhookSecret: null } },
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
  });
  // No runner yet: this job reaches its deadline and fails.
  const failed = await api(stack, 'POST', '/v1/jobs?wait=20', { model: 'trd-tiny', prompt: 'nobody home', max_tokens: 4 });
  expect(failed.json.status).toBe('failed');
  // Which check sees the deadline first (the attempt's timeout, or the loop between attempts) depends on timing.
  expect(failed.json.error).toMatch(/^no runner (took|completed) the job before its deadline/);
  live['inference-job-failed'] = await historyOf(failed.json.id);

  await stack.startRunner({ env: { TRD_RUNNER_FAULTS: 'token-delay-ms=10' } });
  const ok = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'replay me', max_tokens: 6 });
  expect(ok.json.status).toBe('succeeded');
  live['inference-job-succeeded'] = await historyOf(ok.json.id);

  const long = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'cancel me', max_tokens: 500 });
  await waitForJob(stack, long.json.id, (j) => j.status === 'running');
  const cancelled = await api(stack, 'POST', `/v1/jobs/${long.json.id}/cancel`);
  expect(cancelled.json.status).toBe('cancelled');
  live['inference-job-cancelled'] = await historyOf(long.json.id);

  // An OpenAI-style streamed chat: its input carries the messages format, stop strings and the stream token.
  const streamed = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'trd-tiny', messages: [{ role: 'user', content: 'replay a chat' }], max_tokens: 6, temperature: 0, stop: ['zzz'], stream: true }),
  });
  expect(await streamed.text()).toMatch(/data: \[DONE\]\n\n$/);
  live['inference-job-chat-streamed'] = await historyOf(streamed.headers.get('x-trd-job-id')!);

  // The receipt of the plain job above was pinned by its own workflow (no Lighthouse key: the local store only).
  const pin = stack.client.workflow.getHandle(pinWorkflowId(ok.json.receipt_cid));
  await pin.result();
  live['pin-receipt'] = await pin.fetchHistory();

  // A session of three jobs, one after another: its chain continues as new after two, then goes idle and completes.
  let last = null;
  for (const i of [0, 1, 2]) {
    last = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `session step ${i}`, max_tokens: 3, session_id: 'replay-session' });
    expect(last.json.status).toBe('succeeded');
  }
  live['inference-job-session'] = await historyOf(last!.json.id);
  const runs = [];
  for await (const run of stack.client.workflow.list({ query: `WorkflowId = "${chainWorkflowId('replay-session')}"` })) runs.push(run);
  expect(runs).toHaveLength(2);
  for (const run of runs) {
    const handle = stack.client.workflow.getHandle(run.workflowId, run.runId);
    if (run.status.name === 'CONTINUED_AS_NEW') live['receipt-chain-continued'] = await handle.fetchHistory();
    else {
      await handle.result();
      live['receipt-chain-idle'] = await handle.fetchHistory();
    }
  }

  // A payout batch: one owner, one cash redemption, paid through Stripe (the local fake).
  const ownerId = (await api(stack, 'GET', '/v1/org')).json.id;
  expect((await api(stack, 'POST', '/v1/me/payout-account')).status).toBe(201);
  await stack.db.$transaction((tx) =>
    postTransaction(tx, { id: 'replay-grant', kind: 'test_grant', postings: [{ account: PLATFORM_REVENUE, amount: -6000e6 }, { account: ownerAccount(ownerId), amount: 6000e6 }] }),
  );
  expect((await api(stack, 'POST', '/v1/me/redemptions', { credits: 5000, to: 'cash' })).status).toBe(201);
  const batch = await runScheduled<{ payouts: number; paid: number }>(stack, PAYOUT_SCHEDULE_ID, 'payoutSettlement');
  expect(batch.result).toMatchObject({ payouts: 1, paid: 1 });
  const settled = stack.client.workflow.getHandle(batch.workflowId);
  live['payout-settlement'] = await settled.fetchHistory();

  // A reputation sweep over the runner above, started by its schedule.
  const swept = stack.client.workflow.getHandle((await runScheduled(stack, REPUTATION_SCHEDULE_ID, 'reputationSweep')).workflowId);
  live['reputation-sweep'] = await swept.fetchHistory();

  if (process.env.TRD_RECORD_HISTORIES) {
    for (const [name, history] of Object.entries(live)) writeFileSync(`${HISTORIES}${name}.json`, `${historyToJSON(history as never)}\n`);
  }
});

afterAll(async () => {
  await stack?.stop();
  await stripe?.stop();
});

describe('replay', () => {
  test("this run's histories replay against the current code", async () => {
    for (const history of Object.values(live)) await Worker.runReplayHistory(bundle(), history as never);
  });

  const committed = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));

  test('there are committed histories of every outcome, of both versions, and of the receipt, payout, reputation, audit, federation, warm-pool and decision workflows', () => {
    expect(committed.sort()).toEqual([
      'agent-review-approved.json',
      'agent-review-changes-requested.json',
      'agent-review-escalated.json',
      'agent-review-rejected.json',
      'attestation-exchange.json',
      'audit-job-failed.json',
      'audit-job-passed.json',
      'countersign-attestation.json',
      'inference-job-cancelled.json',
      'inference-job-cascade.json',
      'inference-job-chat-streamed.json',
      'inference-job-failed.json',
      'inference-job-kept-place-cold.json',
      'inference-job-kept-place.json',
      'inference-job-pod.json',
      'inference-job-proof.json',
      'inference-job-session.json',
      'inference-job-signed-succeeded.json',
      'inference-job-succeeded.json',
      'inference-job-v1-failed.json',
      'inference-job-v1-succeeded.json',
      'payout-settlement-usdc.json',
      'payout-settlement.json',
      'pin-receipt.json',
      'receipt-chain-continued.json',
      'receipt-chain-idle.json',
      'reputation-sweep-signed.json',
      'reputation-sweep-token.json',
      'reputation-sweep.json',
      'sign-runner-decisions.json',
      'warm-pool-credits.json',
    ]);
  });

  test.each(committed)('committed history %s replays against the current code', async (file) => {
    const history = JSON.parse(readFileSync(`${HISTORIES}${file}`, 'utf8'));
    await Worker.runReplayHistory(bundle(), history);
  });

  test('a reordered workflow fails replay with a determinism violation', async () => {
    const history = JSON.parse(readFileSync(`${HISTORIES}inference-job-v1-succeeded.json`, 'utf8'));
    await expect(Worker.runReplayHistory({ workflowsPath: REORDERED }, history)).rejects.toThrow(DeterminismViolationError);
  });
});
