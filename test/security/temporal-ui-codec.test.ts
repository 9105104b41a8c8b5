/**
 * Finance and reviewers read histories in Temporal's real UI (the CLI dev server's, v1.5.1 / UI 2.42.1,
 * started with --ui-codec-endpoint) through the gateway's codec server, in Debian's Chromium; nobody
 * reads a customer's prompt there. One stack, no runner: a payout batch paid through a Stripe-speaking
 * local server, a job that never runs (its prompt is in its input all the same), and an agent review
 * whose dry run fails for want of a runner, so its author resubmits (an update).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Payload } from '@temporalio/common';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PLATFORM_REVENUE, ownerAccount, postTransaction } from '../../economy/ledger.js';
import { findTemporalCli, startTemporalDevServer, type TemporalDevServer } from '../../devstack/temporal.js';
import { freePort } from '../../devstack/ports.js';
import { payloadCodec } from '../../platform/payload-encryption.js';
import { FINANCE_ROLE, REVIEWER_ROLE, grantRole } from '../../platform/roles.js';
import { PAYOUT_SCHEDULE_ID, type SettlementSummary } from '../../platform/workflow-api.js';
import { agentReviewWorkflowId, workflowIdForJob } from '@trd/protocol';
import { launchChromium } from '../support/chromium.js';
import { manifestFor, newAccount } from '../support/agents.js';
import { runScheduled } from '../support/schedules.js';
import { api, startStack, testNamespace, waitForJob, type TestStack } from '../support/stack.js';
import { startStripeFake, type StripeFake } from '../support/stripe-fake.js';

const SECRET = 'sk_test_trd_fake';
/** Generous for a loaded machine. */
const UI_WAIT_MS = 45_000;
const PROMPT = 'the customer-secret prompt 7f3a';
const ENCRYPTED_B64 = Buffer.from('binary/encrypted').toString('base64');

let temporal: TemporalDevServer;
let stack: TestStack;
let stripe: StripeFake;
let browser: Browser;
let codecUrl: string;
let finance: { id: string; key: string };
let reviewer: { id: string; key: string };
let payout: { workflowId: string; payoutId: string; transferId: string; summary: SettlementSummary };
let jobWorkflowId: string;
let reviewWorkflowId: string;

type JsonPayload = { metadata?: Record<string, string>; data?: string };
const history = async (workflowId: string): Promise<JsonPayload[]> => {
  const res = await stack.client.workflowService.getWorkflowExecutionHistory({ namespace: stack.namespace, execution: { workflowId } });
  // Every sealed payload anywhere in the events, as the wire has them (the raw service does not decode);
  // search attributes and the SDK's markers are plain.
  const found: JsonPayload[] = [];
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    const p = v as Payload;
    if (p.metadata && typeof p.metadata === 'object' && 'encoding' in p.metadata && p.data !== undefined) {
      if (Buffer.from(p.metadata.encoding as Uint8Array).toString() === 'binary/encrypted') found.push({ metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, b]) => [k, Buffer.from(b as Uint8Array).toString('base64')])), data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') });
      return;
    }
    for (const x of Object.values(v)) walk(x);
  };
  walk(res.history?.events);
  return found;
};
const decode = (payloads: JsonPayload[], headers: Record<string, string>, path = '/v1/codec/decode') =>
  fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': stack.namespace, ...headers }, body: JSON.stringify({ payloads }) });
const textOf = (p: JsonPayload) => Buffer.from(p.data ?? '', 'base64').toString();
const sealed = (p: JsonPayload) => p.metadata?.encoding === ENCRYPTED_B64;

beforeAll(async () => {
  const [gatewayPort, uiPort, temporalPort] = [await freePort(), await freePort(), await freePort()];
  codecUrl = `http://127.0.0.1:${gatewayPort}/v1/codec`;
  // This file's own dev server, with its UI: the test services' one is headless.
  temporal = await startTemporalDevServer({ cli: findTemporalCli(), port: temporalPort, uiPort, uiCodecEndpoint: codecUrl, namespaces: [testNamespace()] });
  stripe = await startStripeFake(SECRET);
  stack = await startStack({
    services: { temporalAddress: temporal.address },
    gatewayPort,
    // The dry run fails soon without a runner.
    jobLimits: { deadlineMs: 2500 },
    settings: { codec: { allowedOrigins: [temporal.uiUrl!], maxBodyBytes: 8 * 1024 * 1024 } },
    payouts: { stripe: { secretKey: SECRET, apiUrl: stripe.url.href, webhookSecret: 'whsec_trd_test' }, scheduleIntervalMs: 24 * 3600_000, stepTimeoutMs: 2500, retryInitialMs: 100, retryMaxMs: 500 },
  });
  finance = await newAccount(stack.db, 'finance');
  await grantRole(stack.db, finance.id, FINANCE_ROLE);
  reviewer = await newAccount(stack.db, 'reviewer');
  await grantRole(stack.db, reviewer.id, REVIEWER_ROLE);

  // An owner with a Stripe account that can receive payouts, 5,000 credits queued for cash.
  const owner = await newAccount(stack.db, 'owner');
  expect((await api(stack, 'POST', '/v1/me/payout-account', undefined, owner.key)).status).toBe(201);
  await stack.db.customer.update({ where: { id: owner.id }, data: { stripePayoutsEnabled: true } });
  await stack.db.$transaction((tx) => postTransaction(tx, { id: 'grant-codec', kind: 'test_grant', postings: [{ account: PLATFORM_REVENUE, amount: -6000e6 }, { account: ownerAccount(owner.id), amount: 6000e6 }] }));
  const redemption = await api(stack, 'POST', '/v1/me/redemptions', { credits: 5000, to: 'cash' }, owner.key);
  expect(redemption.status).toBe(201);

  // A customer's job, and an agent submission (both start now; the batch below gives them time).
  const job = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: PROMPT, max_tokens: 4 });
  expect(job.status).toBe(202);
  jobWorkflowId = workflowIdForJob(job.json.id);
  const author = await newAccount(stack.db, 'author');
  const sub = await api(stack, 'POST', '/v1/agents/submissions', { manifest: manifestFor(author.id, { slug: 'codec-bot' }) }, author.key);
  expect(sub.status).toBe(201);
  reviewWorkflowId = agentReviewWorkflowId(sub.json.id);

  const batch = await runScheduled<SettlementSummary>(stack, PAYOUT_SCHEDULE_ID, 'payoutSettlement');
  expect(batch.result).toMatchObject({ payouts: 1, paid: 1, paidUsdCents: 4000 });
  const transfer = stripe.transfers[0];
  payout = { workflowId: batch.workflowId, payoutId: redemption.json.id, transferId: transfer.id, summary: batch.result };

  // The dry run failed (no runner): the author sends a new version, an update in the review's history.
  await waitForJob(stack, job.json.id, (j) => j.status === 'failed', 30_000);
  const deadline = Date.now() + 30_000;
  while ((await api(stack, 'GET', `/v1/agents/submissions/${sub.json.id}`, undefined, author.key)).json.status !== 'checks_failed') {
    if (Date.now() > deadline) throw new Error('the dry run did not fail within 30 s');
    await new Promise((r) => setTimeout(r, 300));
  }
  const again = await api(stack, 'POST', `/v1/agents/submissions/${sub.json.id}/versions`, { manifest: manifestFor(author.id, { slug: 'codec-bot', version: '1.0.1' }) }, author.key);
  expect(again.status).toBeLessThan(300);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await stripe?.stop();
  await temporal?.stop();
});

describe('the codec server over HTTP', () => {
  test('answers the UI origin’s preflight with credentials, and no other origin', async () => {
    const pre = await fetch(`${codecUrl}/decode`, { method: 'OPTIONS', headers: { origin: temporal.uiUrl!, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(temporal.uiUrl);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(pre.headers.get('access-control-allow-headers')).toEqual(expect.stringContaining('x-namespace'));
    expect(pre.headers.get('access-control-allow-headers')).toEqual(expect.stringContaining('authorization'));
    const other = await fetch(`${codecUrl}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('finance opens the payout batch’s payloads, never the job’s; no credential opens nothing; every decode is logged', async () => {
    const batch = await history(payout.workflowId);
    const job = await history(jobWorkflowId);
    expect(batch.length).toBeGreaterThan(3);
    expect([...batch, ...job].every(sealed)).toBe(true);
    expect((await decode(batch, {})).status).toBe(401);

    const res = await decode([...batch, ...job], { authorization: `Bearer ${finance.key}` });
    expect(res.status).toBe(200);
    const out = (await res.json()).payloads as JsonPayload[];
    expect(out).toHaveLength(batch.length + job.length);
    const opened = out.slice(0, batch.length);
    expect(opened.some(sealed)).toBe(false);
    const all = opened.map(textOf).join('\n');
    for (const fact of [payout.payoutId, payout.transferId, '"usdCents":4000', '"paidUsdCents":4000']) expect(all).toContain(fact);
    // The job's payloads come back exactly as sent.
    expect(out.slice(batch.length)).toEqual(job);
    expect(out.map(textOf).join('')).not.toContain(PROMPT);

    const logged = await stack.db.codecDecode.findMany({ where: { customerId: finance.id } });
    expect(logged).toEqual([expect.objectContaining({ roles: 'finance', via: 'api_key', namespace: stack.namespace, payloads: batch.length + job.length, opened: batch.length, keptSealed: job.length, classes: { payout: { opened: batch.length, sealed: 0 }, private: { opened: 0, sealed: job.length } } })]);
  });

  test('the platform opens every payload with its own codec, classes or not', async () => {
    const job = await stack.client.workflow.getHandle(jobWorkflowId).fetchHistory();
    const input = job.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const [plain] = await payloadCodec(stack.payloadKeys).decode([input as Payload]);
    expect(Buffer.from(plain.data!).toString()).toContain(PROMPT);
  });

  test('a reviewer opens the agent review, its resubmit update and recorded steps included', async () => {
    const review = await history(reviewWorkflowId);
    const res = await decode(review, { authorization: `Bearer ${reviewer.key}` });
    const out = ((await res.json()).payloads as JsonPayload[]).map(textOf);
    expect(out).toContain('{"version":"1.0.1"}');
    expect(out.some((t) => t.includes('"kind":"resubmitted"'))).toBe(true);
    expect((await (await decode(review, { authorization: `Bearer ${finance.key}` })).json()).payloads).toEqual(review);
  });

  test('another namespace, or a role without a class, opens nothing; /encode is not offered', async () => {
    const batch = await history(payout.workflowId);
    const elsewhere = await decode(batch, { authorization: `Bearer ${finance.key}`, 'x-namespace': 'someone-else' });
    expect((await elsewhere.json()).payloads).toEqual(batch);
    const asReviewer = await decode(batch, { authorization: `Bearer ${reviewer.key}` });
    expect((await asReviewer.json()).payloads).toEqual(batch);
    const encode = await decode(batch, { authorization: `Bearer ${finance.key}` }, '/v1/codec/encode');
    expect(encode.status).toBe(403);
    expect((await encode.json()).error.code).toBe('encode_not_offered');
    const bad = await fetch(`${codecUrl}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${finance.key}` }, body: JSON.stringify({ payloads: [{ data: 'not base64!' }] }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('payloads.0.data');
  });
});

describe('in Temporal’s UI', () => {
  /** A browser of its own, signed in to the gateway (its dashboard cookie) as this account when given one. */
  async function person(account: { key: string } | null, useCredentials: boolean): Promise<{ context: BrowserContext; page: Page; decodes: { status: number; body: { payloads?: JsonPayload[] } | null }[] }> {
    const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
    if (account) expect((await context.request.post(`${stack.baseUrl}/v1/owner/session`, { data: { api_key: account.key } })).ok()).toBe(true);
    if (useCredentials) {
      // What the UI's Codec Server settings store: "use my browser setting", the endpoint, "include cross-origin credentials".
      await context.addInitScript((endpoint: string) => {
        localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
        localStorage.setItem('endpoint', JSON.stringify(endpoint));
        localStorage.setItem('includeCredentials', 'true');
      }, codecUrl);
    }
    const page = await context.newPage();
    const decodes: { status: number; body: { payloads?: JsonPayload[] } | null }[] = [];
    page.on('response', async (r) => {
      if (!r.url().startsWith(`${codecUrl}/decode`) || r.request().method() !== 'POST') return;
      decodes.push({ status: r.status(), body: await r.json().catch(() => null) });
    });
    return { context, page, decodes };
  }
  const open = async (page: Page, workflowId: string) => {
    await page.goto(`${temporal.uiUrl}/namespaces/${stack.namespace}/workflows/${encodeURIComponent(workflowId)}`, { waitUntil: 'domcontentloaded' });
  };
  const decodedTexts = (decodes: { body: { payloads?: JsonPayload[] } | null }[]) => decodes.flatMap((d) => d.body?.payloads ?? []).filter((p) => !sealed(p)).map(textOf);
  const waitFor = async (what: string, check: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + UI_WAIT_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${UI_WAIT_MS} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  test('the UI was started with the codec endpoint (the CLI flag)', async () => {
    const settings = await (await fetch(`${temporal.uiUrl}/api/v1/settings`)).json();
    expect(settings.Codec).toMatchObject({ Endpoint: codecUrl });
  });

  test('signed in as finance: the payout batch’s input, result and activity results read as JSON; the job’s prompt stays sealed', async () => {
    const { context, page, decodes } = await person(finance, true);
    try {
      await open(page, payout.workflowId);
      // The result card: the batch's summary as JSON, which only a decoded payload shows.
      await page.getByText('paidUsdCents').first().waitFor({ timeout: UI_WAIT_MS });
      // The UI decodes each event's payloads in its own request, as it renders them: wait for all three.
      const seen = (match: (t: string) => boolean) => decodedTexts(decodes).some(match);
      await waitFor('the activity results decoded', () =>
        seen((t) => t.includes(payout.transferId)) && seen((t) => t.includes(payout.payoutId) && t.includes('"usdCents":4000')) && seen((t) => t.includes('"stepTimeoutMs":2500')),
      );
      const texts = decodedTexts(decodes);
      expect(texts.some((t) => t.includes(payout.payoutId) && t.includes('"usdCents":4000'))).toBe(true);
      expect(texts.some((t) => t.includes('"stepTimeoutMs":2500'))).toBe(true);
      expect(decodes.every((d) => d.status === 200)).toBe(true);

      decodes.length = 0;
      await open(page, jobWorkflowId);
      await page.getByText(jobWorkflowId).first().waitFor({ timeout: UI_WAIT_MS });
      await waitFor('the job page asked the codec server', () => decodes.length > 0);
      await page.waitForTimeout(1500);
      expect(decodes.every((d) => d.status === 200)).toBe(true);
      expect(decodedTexts(decodes).join('')).not.toContain(PROMPT);
      expect(await page.content()).not.toContain(PROMPT);
      // Still the sealed payload, shown as the UI shows any payload it cannot read.
      expect(decodes.flatMap((d) => d.body?.payloads ?? []).some(sealed)).toBe(true);
    } finally {
      await context.close();
    }
  });

  test('without a credential (the CLI flag alone sends none) nothing is decoded', async () => {
    const { context, page, decodes } = await person(null, false);
    try {
      await open(page, payout.workflowId);
      await waitFor('the page asked the codec server', () => decodes.length > 0);
      await page.waitForTimeout(1500);
      expect(decodes.every((d) => d.status === 401)).toBe(true);
      expect(await page.getByText('paidUsdCents').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  test('signed in as a reviewer: the agent review’s input reads as JSON; the payout batch stays sealed', async () => {
    const { context, page, decodes } = await person(reviewer, true);
    try {
      await open(page, reviewWorkflowId);
      // The review's input reads as JSON; that its update and steps open for a reviewer is checked over HTTP above
      // (this page, a running review's, was not seen asking for its later events' payloads within the wait).
      const json = () => decodedTexts(decodes).map((t) => { try { return JSON.parse(t); } catch { return null; } });
      await waitFor('the review input decoded', () => json().some((v) => v?.slug === 'codec-bot'));
      decodes.length = 0;
      await open(page, payout.workflowId);
      await waitFor('the batch page asked the codec server', () => decodes.length > 0);
      await page.waitForTimeout(1500);
      expect(decodedTexts(decodes).join('')).not.toContain(payout.payoutId);
    } finally {
      await context.close();
    }
    const logged = await stack.db.codecDecode.findMany({ where: { customerId: reviewer.id, via: 'session' } });
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.some((l) => (l.classes as Record<string, { opened: number }>)['agent-review']?.opened > 0)).toBe(true);
    expect(logged.every((l) => l.origin === temporal.uiUrl && l.roles === 'reviewer')).toBe(true);
  });
});
