/**
 * The platform's decisions about a runner, signed and chained: the chain's
 * checks (pure), then on a real stack a reputation sweep's shadowban and
 * warm-pool credits recorded where they are made, signed by the Schedule's
 * workflow into one chain that continues across runs, served to the runner's
 * owner, and checked in verify-web in Chromium, where one flipped byte is
 * caught. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import * as ed from '@noble/ed25519';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { keyIdFor, publicKeyFromPem, signDecision, decisionSha256, verifyDecisionChain, type SignedDecision } from '@trd/protocol';
import { createWarmPoolActivities } from '../../activities/warm-pool-activities.js';
import { recordDecisions } from '../../platform/runner-decisions.js';
import { DECISIONS_SCHEDULE_ID, REPUTATION_SCHEDULE_ID } from '../../platform/workflow-api.js';
import { launchChromium } from '../support/chromium.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { runScheduled } from '../support/schedules.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const MINUTE = 60_000;

describe('the chain, pure', () => {
  let secret: Uint8Array;
  let kid: string;
  let chain: SignedDecision[];
  const keyFor = (pub: Uint8Array) => (k: string) => (k === kid ? pub : null);
  let pub: Uint8Array;

  beforeAll(async () => {
    secret = ed.utils.randomSecretKey();
    pub = await ed.getPublicKeyAsync(secret);
    kid = await keyIdFor(pub);
    chain = [];
    let prev: string | null = null;
    for (const [i, kind] of (['tier_changed', 'job_moved', 'warm_pool_credit'] as const).entries()) {
      const d = await signDecision({ runner_id: 'runner-a', seq: i + 1, prev_sha256: prev, kind, detail: { n: i }, decided_at: new Date(Date.UTC(2026, 11, 2, 0, i)).toISOString() }, secret);
      prev = await decisionSha256(d.envelope);
      chain.push(d);
    }
  });

  test('a whole chain verifies', async () => {
    await expect(verifyDecisionChain(chain, 'runner-a', keyFor(pub))).resolves.toEqual({ ok: true, decisions: 3 });
  });

  test('a changed, dropped or reordered decision, another runner or an unknown key is caught at its place', async () => {
    const changed = JSON.parse(JSON.stringify(chain)) as SignedDecision[];
    changed[1]!.envelope.detail.n = 7;
    await expect(verifyDecisionChain(changed, 'runner-a', keyFor(pub))).resolves.toEqual({ ok: false, seq: 2, reason: 'the signature does not match the decision' });
    await expect(verifyDecisionChain([chain[0], chain[2]], 'runner-a', keyFor(pub))).resolves.toMatchObject({ ok: false, seq: 2, reason: expect.stringMatching(/numbered 3 where 2 was due/) });
    await expect(verifyDecisionChain([chain[1], chain[0]], 'runner-a', keyFor(pub))).resolves.toMatchObject({ ok: false, seq: 1 });
    await expect(verifyDecisionChain(chain, 'runner-b', keyFor(pub))).resolves.toMatchObject({ ok: false, seq: 1, reason: 'about runner runner-a, not runner-b' });
    await expect(verifyDecisionChain(chain, 'runner-a', () => null)).resolves.toMatchObject({ ok: false, seq: 1, reason: expect.stringMatching(/which the platform does not publish/) });
    await expect(verifyDecisionChain('nope', 'runner-a', keyFor(pub))).resolves.toMatchObject({ ok: false, reason: 'decisions must be a list' });
  });

  test('a decision that is not well formed is not signed', async () => {
    await expect(signDecision({ runner_id: 'runner-a', seq: 0, prev_sha256: null, kind: 'job_moved', detail: {}, decided_at: new Date().toISOString() }, secret)).rejects.toThrow(/"seq" must be a whole number from 1/);
    await expect(signDecision({ runner_id: 'runner-a', seq: 1, prev_sha256: null, kind: 'job_moved', detail: { x: 1.5 }, decided_at: new Date().toISOString() }, secret)).rejects.toThrow(/detail\.x/);
  });
});

describe('on a real stack', () => {
  let stack: TestStack;
  let browser: Browser;
  let runnerId: string;

  beforeAll(async () => {
    // Every score is below the shadowban floor: the first sweep shadowbans the runner, a decision about it.
    stack = await startStack({ reputation: { policy: { shadowbanFloor: 101, shadowbanLift: 101 } }, payloadKeys: FIXTURE_PAYLOAD_KEYS });
    const code = (await api(stack, 'POST', '/v1/runners/device-codes', { email: 'owner@example.com' }, null)).json;
    expect((await api(stack, 'POST', '/v1/runners/device-codes/approve', { user_code: code.user_code })).status).toBe(200);
    ({ runner_id: runnerId } = (await api(stack, 'POST', '/v1/runners/device-token', { device_code: code.device_code }, null)).json);
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const chainOf = async () => (await api(stack, 'GET', `/v1/owner/runners/${runnerId}/decisions`)).json;
  const keyFor = async () => {
    const keys = (await api(stack, 'GET', '/keys', undefined, null)).json.keys as Array<{ kid: string; public_key_pem: string }>;
    return (kid: string) => {
      const k = keys.find((x) => x.kid === kid);
      return k ? publicKeyFromPem(k.public_key_pem) : null;
    };
  };
  /** An idle minute of the runner's (as its heartbeats would write it), credited by the warm pool: one decision. */
  async function warmCredits(minutesAgo: number): Promise<void> {
    const minute = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - minutesAgo * MINUTE);
    await stack.db.runnerUptimeMinute.createMany({ data: [{ runnerId, minute, warm: true, idleModels: ['trd-tiny'] }] });
    await createWarmPoolActivities({ db: stack.db }).creditWarmMinutes({ target: { 'trd-tiny': 1 }, settleMs: 0, lookbackMinutes: 1, now: new Date(minute.getTime() + MINUTE + 1000).toISOString() });
  }

  test('decisions recorded where they are made are signed into one chain the owner gets', async () => {
    await warmCredits(30);
    await runScheduled(stack, REPUTATION_SCHEDULE_ID, 'reputationSweep');
    expect((await chainOf()).pending).toBe(2);
    const { result, workflowId } = await runScheduled<{ signed: number }>(stack, DECISIONS_SCHEDULE_ID, 'signRunnerDecisions');
    expect(result.signed).toBe(2);
    if (process.env.TRD_RECORD_HISTORIES) {
      writeFileSync(new URL('../fixtures/histories/sign-runner-decisions.json', import.meta.url), `${historyToJSON(await stack.client.workflow.getHandle(workflowId).fetchHistory())}\n`);
    }
    const chain = await chainOf();
    expect(chain).toMatchObject({ object: 'runner_decisions', runner_id: runnerId, pending: 0 });
    expect(chain.decisions.map((d: SignedDecision) => d.envelope.kind)).toEqual(['warm_pool_credit', 'shadowbanned']);
    expect(chain.decisions[1].envelope.detail.reason).toMatch(/below 101/);
    await expect(verifyDecisionChain(chain.decisions, runnerId, await keyFor())).resolves.toEqual({ ok: true, decisions: 2 });

    // The next run continues the chain: seq 3 names seq 2's hash. Nothing is signed twice. (A shadowbanned runner earns
    // no warm credit, so the next decision is a job moved off it, recorded as the job workflow's activity does.)
    await recordDecisions(stack.db, [{ runnerId, kind: 'job_moved', key: 'moved:job_test:2', detail: { job_id: 'job_test', reason: 'running long' }, at: new Date() }]);
    expect((await runScheduled<{ signed: number }>(stack, DECISIONS_SCHEDULE_ID, 'signRunnerDecisions')).result.signed).toBe(1);
    const longer = await chainOf();
    expect(longer.decisions.slice(0, 2)).toEqual(chain.decisions);
    expect(longer.decisions[2].envelope).toMatchObject({ seq: 3, prev_sha256: await decisionSha256(chain.decisions[1].envelope) });
    await expect(verifyDecisionChain(longer.decisions, runnerId, await keyFor())).resolves.toEqual({ ok: true, decisions: 3 });
    expect((await runScheduled<{ signed: number }>(stack, DECISIONS_SCHEDULE_ID, 'signRunnerDecisions')).result.signed).toBe(0);
    // Only its owner gets it: no credential, a 401; a runner not theirs, a 404.
    expect((await api(stack, 'GET', '/v1/owner/runners/runner-nobodys/decisions')).status).toBe(404);
    expect((await api(stack, 'GET', `/v1/owner/runners/${runnerId}/decisions`, undefined, null)).status).toBe(401);
  });

  test('verify-web checks the downloaded chain in Chromium, and catches one flipped byte', async () => {
    const chain = await chainOf();
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${stack.baseUrl}/verify/`);
    await page.fill('#receipt', JSON.stringify(chain));
    await page.click('#verify');
    await page.locator('#result.ok', { hasText: `✓ Decisions verified — runner ${runnerId}: 3 decisions` }).waitFor({ timeout: 15_000 });
    expect(await page.locator('#lines li.ok').count()).toBe(3);
    await page.screenshot({ path: `${SHOTS}verify-web-decisions.png`, fullPage: true });

    // One byte: the shadowban's score, 1 digit changed, as a platform rewriting what it decided would.
    const text = JSON.stringify(chain);
    const score = chain.decisions[1].envelope.detail.score as number;
    const flipped = text.replace(`"score":${score}`, `"score":${score === 100 ? 99 : score + 1}`);
    expect(flipped).not.toBe(text);
    await page.fill('#receipt', flipped);
    await page.click('#verify');
    await page.locator('#result.bad', { hasText: '✗ Decisions invalid' }).waitFor({ timeout: 15_000 });
    expect(await page.locator('#result').textContent()).toContain('at #2: the signature does not match the decision');
    expect(await page.locator('#lines li.bad').count()).toBe(2);
    await page.screenshot({ path: `${SHOTS}verify-web-decisions-flipped.png`, fullPage: true });
    await page.close();
  });
});
