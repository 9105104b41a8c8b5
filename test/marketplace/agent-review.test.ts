/**
 * Submitting and reviewing agents in Debian's Chromium, on a real stack with a
 * real runner: an author submits on /agents/submit, the `agentReview`
 * workflow checks the manifest and dry-runs it on the network, a reviewer
 * decides on /agents/review. Approve publishes that exact version; request
 * changes, then the author's new version continues the same workflow; reject
 * ends it with reasons. A short SLA (a setting) makes the durable timers
 * remind and escalate within seconds. Reviewers never decide their own.
 * With TRD_RECORD_HISTORIES=1 the histories become replay fixtures
 * (test/workflows/replay.test.ts replays every committed one; so does this file).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { agentReviewWorkflowId } from '@trd/protocol';
import { grantReviewer } from '../../gateway/marketplace.js';
import { platformDataConverter } from '../../platform/payload-encryption.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { manifestFor, newAccount } from '../support/agents.js';
import { api, serviceEndpoints, startStack, type TestStack } from '../support/stack.js';

const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
/** Reminders every 3 s without a decision, escalation at the second: seconds, not a day. */
const SLA_MS = 3000;
/** Generous for a loaded machine: the dry run is a real job on a real runner. */
const UI_WAIT_MS = 60_000;

let stack: TestStack;
let browser: Browser;
let authorPage: Page;
let reviewerPage: Page;
let author: { id: string; key: string };
let reviewer: { id: string; key: string };
const histories: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
    settings: { agentReview: { slaMs: SLA_MS, remindersBeforeEscalation: 2, resubmitWaitMs: 600_000, dryRunMaxTokens: 8 } },
  });
  await stack.startRunner();
  author = await newAccount(stack.db, 'author');
  reviewer = await newAccount(stack.db, 'reviewer');
  await grantReviewer(stack.db, reviewer.id);
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  // Two people, two browsers' worth of state: each page keeps its own key.
  authorPage = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  reviewerPage = await (await browser.newContext({ viewport: { width: 1100, height: 1200 } })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const card = (page: Page, id: string) => page.locator(`[data-submission="${id}"]`);
const statusOf = (page: Page, id: string, status: string) => card(page, id).locator('.status', { hasText: new RegExp(`^${status}$`) }).waitFor({ timeout: UI_WAIT_MS });

async function submitOnPage(manifest: object): Promise<string> {
  await authorPage.fill('#manifest', JSON.stringify(manifest, null, 2));
  await authorPage.click('#submit');
  const result = authorPage.locator('#submit-result', { hasText: /^submitted: sub_/ });
  await result.waitFor({ timeout: UI_WAIT_MS });
  return (await result.textContent())!.replace('submitted: ', '');
}

/** The reviewer's queue, loaded again, holds the submission. */
async function reviewerSees(id: string): Promise<void> {
  // The cards of this load, not of the one before (a load replaces them: a reason typed into an old one is lost).
  const loads = Number((await reviewerPage.locator('#queue').getAttribute('data-loads')) ?? 0);
  await reviewerPage.click('#load');
  await reviewerPage.locator(`#queue[data-loads="${loads + 1}"]`).waitFor({ timeout: UI_WAIT_MS });
  await card(reviewerPage, id).waitFor({ timeout: UI_WAIT_MS });
}

async function decide(id: string, action: 'approve' | 'reject' | 'request-changes', reasons = ''): Promise<void> {
  await reviewerSees(id);
  if (reasons) await card(reviewerPage, id).locator('textarea.reasons').fill(reasons);
  await card(reviewerPage, id).locator(`button.${action}`).click();
  await card(reviewerPage, id).waitFor({ state: 'detached', timeout: UI_WAIT_MS });
}

async function keep(name: string, id: string): Promise<void> {
  const handle = stack.client.workflow.getHandle(agentReviewWorkflowId(id));
  await handle.result();
  histories[name] = historyToJSON(await handle.fetchHistory());
  if (process.env.TRD_RECORD_HISTORIES) writeFileSync(`${HISTORIES}${name}.json`, `${histories[name]}\n`);
}

test('the submit page is readable without an account; submitting needs a key', async () => {
  await authorPage.goto(`${stack.baseUrl}/agents/submit`);
  await authorPage.locator('#guide', { hasText: 'payout_account' }).waitFor();
  await authorPage.locator('#submissions', { hasText: 'Give an API key or sign in' }).waitFor();
  await authorPage.fill('#manifest', JSON.stringify(manifestFor(author.id)));
  await authorPage.click('#submit');
  await authorPage.locator('#submit-error', { hasText: /sign in|API key/i }).waitFor();
  expect(await stack.db.agentSubmission.count()).toBe(0);
});

test('submit, the automatic checks and dry run, review, approve: that version is published', async () => {
  await authorPage.fill('#api-key', author.key);
  // A bad manifest is refused on the page with its field named.
  await authorPage.fill('#manifest', JSON.stringify(manifestFor(author.id, { slug: 'poem-bot', model: 'gpt-17' })));
  await authorPage.click('#submit');
  await authorPage.locator('#submit-error', { hasText: 'manifest.model: "gpt-17" is not a model' }).waitFor();

  const id = await submitOnPage(manifestFor(author.id, { slug: 'poem-bot' }));
  await statusOf(authorPage, id, 'awaiting_review');
  await card(authorPage, id).locator('[data-check="dry_run"].ok').waitFor();
  const dryRun = (await stack.db.agentVersion.findUniqueOrThrow({ where: { slug_version: { slug: 'poem-bot', version: '1.0.0' } } })).dryRunOutput;
  expect(dryRun?.length).toBeGreaterThan(0);

  await reviewerPage.goto(`${stack.baseUrl}/agents/review`);
  await reviewerPage.fill('#api-key', reviewer.key);
  await reviewerSees(id);
  const c = card(reviewerPage, id);
  await c.locator('[data-check="manifest"].ok').waitFor();
  await c.locator('[data-check="model"].ok').waitFor();
  expect(await c.locator('pre.dry-run').textContent()).toBe(dryRun);
  await c.locator('table.diff [data-field="system_prompt"]').waitFor();
  await reviewerPage.screenshot({ path: `${SHOTS}agent-review-queue.png`, fullPage: true });
  await decide(id, 'approve');

  const published = await api(stack, 'GET', '/v1/agents/poem-bot', undefined, null);
  expect(published.json).toMatchObject({ version: '1.0.0', manifest_sha256: (await stack.db.agentVersion.findUniqueOrThrow({ where: { slug_version: { slug: 'poem-bot', version: '1.0.0' } } })).manifestSha256 });
  await authorPage.click('#refresh');
  await statusOf(authorPage, id, 'approved');
  await card(authorPage, id).locator('[data-event="approve"]', { hasText: `by ${reviewer.id}` }).waitFor();
  await keep('agent-review-approved', id);
  // Who decided is in the workflow's history too: the update's arguments.
  expect(histories['agent-review-approved']).toContain('workflowExecutionUpdateAcceptedEventAttributes');
  const history = await stack.client.workflow.getHandle(agentReviewWorkflowId(id)).fetchHistory();
  const accepted = history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  expect(accepted).toHaveLength(1);
  await authorPage.screenshot({ path: `${SHOTS}agent-submit-approved.png`, fullPage: true });
});

test('request changes, the author resubmits, the same workflow reviews the new version; only it is published', async () => {
  const id = await submitOnPage(manifestFor(author.id, { slug: 'poem-bot', version: '1.1.0', system_prompt: 'You write long poems.' }));
  await statusOf(authorPage, id, 'awaiting_review');
  await decide(id, 'request-changes', 'Make the poems short.');
  await authorPage.click('#refresh');
  await statusOf(authorPage, id, 'changes_requested');
  await card(authorPage, id).locator('[data-event="request_changes"]', { hasText: 'Make the poems short.' }).waitFor();
  // Until its own approval, a new version is not what runs: 1.0.0 stays published.
  expect((await api(stack, 'GET', '/v1/agents/poem-bot', undefined, null)).json.version).toBe('1.0.0');

  // Resubmitting the same version is refused by name; a new one continues the review.
  const next = card(authorPage, id).locator('textarea.next-manifest');
  await next.fill(JSON.stringify(manifestFor(author.id, { slug: 'poem-bot', version: '1.1.0', system_prompt: 'You write short poems.' })));
  await card(authorPage, id).locator('button.resubmit').click();
  await card(authorPage, id).locator('.resubmit-error', { hasText: '1.1.0 was submitted before' }).waitFor();
  await next.fill(JSON.stringify(manifestFor(author.id, { slug: 'poem-bot', version: '1.1.1', system_prompt: 'You write short poems.' })));
  await card(authorPage, id).locator('button.resubmit').click();
  await authorPage.locator(`[data-submission="${id}"] h3`, { hasText: '1.1.1' }).waitFor({ timeout: UI_WAIT_MS });
  await statusOf(authorPage, id, 'awaiting_review');

  await reviewerSees(id);
  // The diff is against the published 1.0.0.
  const row = card(reviewerPage, id).locator('table.diff [data-field="system_prompt"]');
  await expect(row.textContent()).resolves.toContain('You answer in haiku.');
  await expect(row.textContent()).resolves.toContain('You write short poems.');
  // The reviewer cannot decide the version before.
  const stale = await api(stack, 'POST', `/v1/review/submissions/${id}/decision`, { version: '1.1.0', action: 'approve' }, reviewer.key);
  expect([stale.status, stale.json.error.message]).toEqual([409, 'version 1.1.0 is not the one under review (1.1.1)']);
  await decide(id, 'approve');
  expect((await api(stack, 'GET', '/v1/agents/poem-bot', undefined, null)).json.version).toBe('1.1.1');
  const sub = (await api(stack, 'GET', `/v1/agents/submissions/${id}`, undefined, author.key)).json;
  expect(sub.events.map((e: any) => e.kind)).toEqual(expect.arrayContaining(['submitted', 'checks_passed', 'request_changes', 'resubmitted', 'approve']));
  expect(sub.versions.map((v: any) => v.version)).toEqual(['1.1.0', '1.1.1']);
  await keep('agent-review-changes-requested', id);
});

test('reject with reasons: the author sees them, nothing is published', async () => {
  const id = await submitOnPage(manifestFor(author.id, { slug: 'spam-bot' }));
  await statusOf(authorPage, id, 'awaiting_review');
  // Reasons are required to reject: the page shows the refusal, the submission stays.
  await reviewerSees(id);
  await card(reviewerPage, id).locator('button.reject').click();
  await card(reviewerPage, id).locator('.decision-error', { hasText: 'reasons' }).waitFor();
  await decide(id, 'reject', 'Sends spam.');
  await authorPage.click('#refresh');
  await statusOf(authorPage, id, 'rejected');
  await card(authorPage, id).locator('[data-event="reject"]', { hasText: 'Sends spam.' }).waitFor();
  expect((await api(stack, 'GET', '/v1/agents/spam-bot', undefined, null)).status).toBe(404);
  await keep('agent-review-rejected', id);
});

test('nobody reviews within the SLA: durable timers remind, then escalate; a reviewer cannot decide their own', async () => {
  // The reviewer's own agent: listed to them, but not theirs to decide.
  const own = await api(stack, 'POST', '/v1/agents/submissions', { manifest: manifestFor(reviewer.id, { slug: 'own-bot' }) }, reviewer.key);
  expect(own.status).toBe(201);
  const id = own.json.id;
  const deadline = Date.now() + UI_WAIT_MS;
  let sub: any;
  do {
    await new Promise((r) => setTimeout(r, 500));
    sub = (await api(stack, 'GET', `/v1/agents/submissions/${id}`, undefined, reviewer.key)).json;
  } while (!sub.escalated_at && Date.now() < deadline);
  const kinds = sub.events.map((e: any) => e.kind);
  expect(kinds).toEqual(expect.arrayContaining(['checks_passed', 'reminder', 'escalation']));
  expect(sub).toMatchObject({ status: 'awaiting_review', reminders: expect.any(Number) });
  expect(sub.reminders).toBeGreaterThanOrEqual(2);
  // Each timer fired at least an SLA after the one before (durable timers, not a poll).
  const times = sub.events.filter((e: any) => e.kind === 'reminder' || e.kind === 'escalation').map((e: any) => Date.parse(e.at));
  const checked = Date.parse(sub.events.find((e: any) => e.kind === 'checks_passed').at);
  expect(times[0] - checked).toBeGreaterThanOrEqual(SLA_MS - 1000);

  const refused = await api(stack, 'POST', `/v1/review/submissions/${id}/decision`, { version: '1.0.0', action: 'approve' }, reviewer.key);
  expect([refused.status, refused.json.error.code]).toEqual([403, 'own_submission']);
  await reviewerSees(id);
  await card(reviewerPage, id).locator('.own').waitFor();
  expect(await card(reviewerPage, id).locator('button.approve').isDisabled()).toBe(true);
  // A non-reviewer cannot decide at all.
  const notReviewer = await api(stack, 'POST', `/v1/review/submissions/${id}/decision`, { version: '1.0.0', action: 'approve' }, author.key);
  expect([notReviewer.status, notReviewer.json.error.code]).toEqual([403, 'not_a_reviewer']);
  expect((await api(stack, 'GET', '/v1/agents/own-bot', undefined, null)).status).toBe(404);
  // Another reviewer decides it; the history keeps the reminders and the escalation.
  const second = await newAccount(stack.db, 'second reviewer');
  await grantReviewer(stack.db, second.id);
  expect((await api(stack, 'POST', `/v1/review/submissions/${id}/decision`, { version: '1.0.0', action: 'approve' }, second.key)).status).toBe(200);
  await keep('agent-review-escalated', id);
});

test('the histories of this run replay against the current code', async () => {
  const bundle = { workflowBundle: { codePath: serviceEndpoints().workflowBundlePath }, dataConverter: platformDataConverter(FIXTURE_PAYLOAD_KEYS) };
  expect(Object.keys(histories).sort()).toEqual(['agent-review-approved', 'agent-review-changes-requested', 'agent-review-escalated', 'agent-review-rejected']);
  for (const h of Object.values(histories)) await Worker.runReplayHistory(bundle, JSON.parse(h));
});
