/**
 * Federation's chain-head attestations on two pods on one machine (two platforms: their own
 * namespaces, databases, gateways, orchestrators and signing keys). The operators peer them, each
 * side issuing the credential the other presents; pod A's Schedule sends pod B the heads of its
 * session chains, B countersigns, and both keep the exchange. A verifier then reads from B what A
 * attested and when, and checks it against A's chain as A publishes it: a rewritten chain is caught.
 * A revoked peer is refused, and so is every malformed or forged attestation, with the reason.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser } from 'playwright-core';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { ScheduleNotFoundError } from '@temporalio/client';
import { cidOfBytes, publicKeyFromPem, receiptDocumentBytes, verifyReceipt, workflowIdForJob } from '@trd/protocol';
import { parseCascade } from '../../cascade/config.js';
import { attestationSha256, verifyCountersigned, type CountersignedAttestation, type SignedAttestation } from '@trd/protocol/attestation';
import type { LocalPlatform } from '../../devstack/platform.js';
import { createApiKey, createCustomer, findApiKey } from '../../gateway/api-keys.js';
import { gatewaySettings } from '../../gateway/settings.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../platform/signing-key.js';
import { OPERATOR_ROLE, grantRole } from '../../platform/roles.js';
import { attestationScheduleId, countersignWorkflowId, type AttestationExchangeOutcome } from '../../platform/workflow-api.js';
import { launchChromium } from '../support/chromium.js';
import { FIXTURE_PAYLOAD_KEYS } from '../support/fixture-keys.js';
import { runScheduled } from '../support/schedules.js';
import { startSecondPlatform } from '../support/second-platform.js';
import { api, testNamespace, useStack, type TestStack } from '../support/stack.js';

const SESSION = 'federated-build-1';
const federation = (podName: string) => ({ ...gatewaySettings({}).federation, podName, timeoutMs: 5000, retryInitialMs: 100, retryMaxMs: 1000, attestEveryMs: 3_600_000 });

const price = { per: 'token', promptMicrocreditsPer1k: 2000, completionMicrocreditsPer1k: 6000 } as const;
const cost = { per: 'token', promptMicrocreditsPer1k: 1000, completionMicrocreditsPer1k: 3000 } as const;

let podB: LocalPlatform;
/** What each pod issued to the other: A's credential is the one B presents to A, and so on. */
const issued: { byA?: string; byB?: string } = {};
/** Pod A's first attestation, as pod B keeps it. */
let first: SignedAttestation;

beforeAll(async () => {
  podB = await startSecondPlatform(`${testNamespace()}-pod-b`, { federation: federation('pod-b') });
  await podB.startRunner({ workerId: 'pod-b-runner' });
}, 120_000);

// Pod A's cascade sends trd-tiny jobs to pod B when asked (trd_route: upstream), with the API key B's operator gave A.
const podA = useStack(async () => {
  const keyFile = join(mkdtempSync(join(tmpdir(), 'pod-key-')), 'pod-b.key');
  writeFileSync(keyFile, `${await createApiKey(podB.db, await createCustomer(podB.db, 'pod:pod-a'), 'pod-a')}\n`);
  const cascade = parseCascade({
    version: 1,
    models: { 'trd-tiny': [{ kind: 'network' }, { kind: 'pod', name: 'pod-b', model: 'trd-tiny', apiKey: { file: keyFile }, price, cost, timeoutMs: 30_000, concurrency: 4 }] },
  });
  return { settings: { federation: federation('pod-a'), cascade }, payloadKeys: FIXTURE_PAYLOAD_KEYS };
}, async (s) => {
  for (const pod of [s, podB]) await grantRole(pod.db, (await findApiKey(pod.db, pod.apiKey))!.customerId, OPERATOR_ROLE);
  await s.startRunner({ workerId: 'pod-a-runner' });
});

afterAll(async () => {
  await podB?.stop();
});

/** A pod's published keys, by id, as any verifier fetches them. */
async function keysOf(pod: LocalPlatform): Promise<Map<string, Uint8Array>> {
  const { keys } = (await api(pod, 'GET', '/keys', undefined, null)).json;
  return new Map(keys.map((k: { kid: string; public_key_pem: string }) => [k.kid, publicKeyFromPem(k.public_key_pem)]));
}

async function chainOf(pod: LocalPlatform, session: string, count: number) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api(pod, 'GET', `/v1/sessions/${session}/receipts`, undefined, null);
    if (res.status === 200 && res.json.count === count) return res.json;
    if (Date.now() > deadline) throw new Error(`the chain of ${session} did not reach ${count} receipts: ${JSON.stringify(res.json)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function runJob(prompt: string) {
  const res = await api(podA, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt, max_tokens: 4, session_id: SESSION });
  expect(res.json).toMatchObject({ status: 'succeeded' });
}

/** Pod A's verify page on the session, once it has asked the peers: the result and the peers' lines. */
async function verifyPage(browser: Browser, screenshot: string) {
  const page = await browser.newPage();
  try {
    await page.goto(`${podA.baseUrl}/verify/?session=${SESSION}`);
    await page.waitForFunction(() => !document.getElementById('sightings-title')!.hidden, undefined, { timeout: 20_000 });
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: `test-results/${screenshot}.png`, fullPage: true });
    return await page.evaluate(() => ({
      ok: document.getElementById('result')!.className === 'ok',
      summary: document.getElementById('result')!.textContent!,
      sightings: Array.from(document.querySelectorAll('#sightings li')).map((li) => ({ ok: li.className === 'ok', text: li.textContent! })),
    }));
  } finally {
    await page.close();
  }
}

const attest = () => runScheduled<AttestationExchangeOutcome>(podA as TestStack, attestationScheduleId('pod-b'), 'attestationExchange');

describe('peering', () => {
  test('each operator peers with the other pod; attestations start once the credential the other side issued is given', async () => {
    const fromA = await api(podA, 'POST', '/v1/operator/peers', { name: 'pod-b', base_url: podB.baseUrl });
    expect(fromA.status).toBe(201);
    expect(fromA.json).toMatchObject({ name: 'pod-b', status: 'awaiting_credential', keys: [podB.signingKey.kid], approved_by: (await findApiKey(podA.db, podA.apiKey))!.customerId });
    issued.byA = fromA.json.credential;
    expect(issued.byA).toMatch(/^trdp_/);
    // Kept as its hash only: the database does not give it away.
    expect(JSON.stringify(await podA.db.peer.findUnique({ where: { name: 'pod-b' } }))).not.toContain(issued.byA!.slice(5));

    const fromB = await api(podB, 'POST', '/v1/operator/peers', { name: 'pod-a', base_url: `${podA.baseUrl}/`, credential: issued.byA });
    expect(fromB.json).toMatchObject({ name: 'pod-a', base_url: podA.baseUrl, status: 'active', keys: [podA.signingKey.kid] });
    issued.byB = fromB.json.credential;
    // The credential it was given is sealed at rest, not stored as sent.
    const row = await podB.db.peer.findUniqueOrThrow({ where: { name: 'pod-a' } });
    expect(Buffer.from(row.outboundCredential!).toString('latin1')).not.toContain(issued.byA);

    const patched = await api(podA, 'PATCH', '/v1/operator/peers/pod-b', { credential: issued.byB });
    expect(patched.json).toMatchObject({ status: 'active', attestations: { last_sent_at: null, received: 0 } });
    expect((await podA.client.schedule.getHandle(attestationScheduleId('pod-b')).describe()).action).toMatchObject({ workflowType: 'attestationExchange' });
  });

  test('bad peering requests are refused with the reason and change nothing', async () => {
    expect(await api(podA, 'POST', '/v1/operator/peers', { name: 'pod-b', base_url: podB.baseUrl })).toMatchObject({ status: 409, json: { error: { code: 'peer_exists' } } });
    expect(await api(podA, 'POST', '/v1/operator/peers', { name: 'pod-a', base_url: podB.baseUrl })).toMatchObject({ status: 400, json: { error: { message: expect.stringMatching(/own name/) } } });
    expect(await api(podA, 'POST', '/v1/operator/peers', { name: 'Pod C', base_url: podB.baseUrl })).toMatchObject({ status: 400, json: { error: { param: 'name' } } });
    expect(await api(podA, 'POST', '/v1/operator/peers', { name: 'pod-c', base_url: `${podB.baseUrl}/v1` })).toMatchObject({ status: 400, json: { error: { message: expect.stringMatching(/without \/v1/) } } });
    const unreachable = await api(podA, 'POST', '/v1/operator/peers', { name: 'pod-c', base_url: 'http://127.0.0.1:9' });
    expect(unreachable).toMatchObject({ status: 502, json: { error: { code: 'peer_unreachable' } } });
    expect(await api(podA, 'PATCH', '/v1/operator/peers/pod-c', { quota_per_minute: 5 })).toMatchObject({ status: 404 });
    // Not an operator: another account of this pod.
    const other = await createApiKey(podA.db, await createCustomer(podA.db, 'not-an-operator'), 'k');
    expect(await api(podA, 'GET', '/v1/operator/peers', undefined, other)).toMatchObject({ status: 403, json: { error: { code: 'not_an_operator' } } });
    expect((await api(podA, 'GET', '/v1/operator/peers')).json.data.map((p: { name: string }) => p.name)).toEqual(['pod-b']);
  });
});

describe('chain-head attestations', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('a session head is attested to the peer and countersigned; the peer’s copy checks out against the chain as published', async () => {
    await runJob('step one');
    await runJob('step two');
    const chain = await chainOf(podA, SESSION, 2);
    const { result, workflowId } = await attest();
    expect(result).toMatchObject({ heads: 1 });

    // What B kept, as any verifier reads it from B, signed by A and countersigned by B.
    const evidence = (await api(podB, 'GET', `/v1/federation/attestations?pod=pod-a&session=${SESSION}`, undefined, null)).json;
    expect(evidence).toMatchObject({ pod: 'pod-b', attested_pod: 'pod-a', data: [expect.anything()] });
    const exchange: CountersignedAttestation = evidence.data[0];
    first = exchange.attestation;
    expect(await verifyCountersigned(exchange, await keysOf(podA), await keysOf(podB))).toEqual({ ok: true });
    expect(exchange.attestation.envelope).toMatchObject({ pod: 'pod-a', heads: [{ session_id: SESSION, seq: 1, cid: chain.head }], keys: [podA.signingKey.kid] });
    expect(exchange.countersignature.envelope).toMatchObject({ pod: 'pod-b', attested_pod: 'pod-a', received_at: result.receivedAt });

    const seen = (await api(podB, 'GET', `/v1/federation/sightings?pod=pod-a&session=${SESSION}`, undefined, null)).json;
    expect(seen).toMatchObject({ consistent: true, unverified: 0, chain: { head: chain.head, count: 2 }, sightings: [{ peer: 'pod-b', seq: 1, cid: chain.head, consistent: true }] });

    // A's own copy, and where to ask.
    const mine = (await api(podA, 'GET', `/v1/sessions/${SESSION}/attestations`, undefined, null)).json;
    expect(mine).toMatchObject({ pod: 'pod-a', peers: [{ name: 'pod-b', base_url: podB.baseUrl, revoked_at: null }], data: [exchange] });
    expect((await api(podA, 'GET', '/v1/operator/peers')).json.data[0].attestations).toMatchObject({ awaiting_countersignature: 0, last_countersigned_at: expect.any(String) });
    expect((await api(podB, 'GET', '/v1/operator/peers')).json.data[0].attestations).toMatchObject({ received: 1, last_received_at: result.receivedAt });

    // The verify page asks pod B itself, and checks both signatures in the browser.
    const page = await verifyPage(browser, 'verify-web-federation');
    expect(page).toMatchObject({ ok: true, sightings: [{ ok: true, text: `✓ seq 1 ${chain.head} — seen by pod-b at ${result.receivedAt}` }] });

    if (process.env.TRD_RECORD_HISTORIES) {
      const record = async (pod: LocalPlatform, id: string, file: string) =>
        writeFileSync(new URL(`../fixtures/histories/${file}`, import.meta.url), `${historyToJSON(await pod.client.workflow.getHandle(id).fetchHistory())}\n`);
      await record(podA, workflowId, 'attestation-exchange.json');
      await record(podB, countersignWorkflowId('pod-a', await attestationSha256(first)), 'countersign-attestation.json');
    }
  });

  test('the next attestation carries only the heads the peer has not countersigned, and the operator can send one now', async () => {
    expect((await attest()).result).toMatchObject({ heads: 0 });
    await runJob('step three');
    const chain = await chainOf(podA, SESSION, 3);
    const now = await api(podA, 'POST', '/v1/operator/peers/pod-b/attest');
    expect(now).toMatchObject({ status: 202, json: { name: 'pod-b', exchange_id: expect.stringMatching(/^federation-attest:pod-b-now-/) } });
    expect(await podA.client.workflow.getHandle(now.json.exchange_id).result()).toMatchObject({ heads: 1 });
    const latest = await podB.db.receivedAttestation.findFirstOrThrow({ where: { pod: 'pod-a' }, orderBy: { receivedAt: 'desc' } });
    expect((latest.document as unknown as SignedAttestation).envelope.heads).toEqual([{ session_id: SESSION, seq: 2, cid: chain.head }]);
  });

  test('sent again, an attestation gets the same countersignature; a forged or malformed one is refused with the reason', async () => {
    const post = (body: unknown, key: string | null = issued.byB!) => api(podB, 'POST', '/v1/federation/attestations', body, key);
    const again = await post(first);
    const kept = (await api(podB, 'GET', `/v1/federation/attestations?pod=pod-a&session=${SESSION}`, undefined, null)).json.data[0];
    expect(again).toMatchObject({ status: 200, json: { countersignature: kept.countersignature } });

    const forged = structuredClone(first);
    forged.envelope.heads[0]!.seq = 0;
    expect(await post(forged)).toMatchObject({ status: 400, json: { error: { code: 'invalid_attestation', message: expect.stringMatching(/signature does not match/) } } });
    expect(await post({ ...first, envelope: { ...first.envelope, pod: 'pod-z' } })).toMatchObject({ status: 400, json: { error: { message: 'pod pod-z is not a peer of this pod' } } });
    expect(await post({ envelope: { v: 1 }, signature: 'x' })).toMatchObject({ status: 400, json: { error: { message: expect.stringMatching(/unknown field|is missing/) } } });
    expect(await post(first, null)).toMatchObject({ status: 401, json: { error: { message: expect.stringMatching(/Bearer trdp_/) } } });
    expect(await post(first, issued.byA!)).toMatchObject({ status: 401, json: { error: { code: 'invalid_federation_credential' } } });
    // Nothing refused was kept.
    expect(await podB.db.receivedAttestation.count({ where: { pod: 'pod-a' } })).toBe(3);
  });

  test('the operator page: the peers with their attestations; peering through the form shows the credential once; revoking asks first', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${podA.baseUrl}/dashboard/peers`);
      await page.waitForSelector('#signed-out:not([hidden])');
      // Signed in as the dashboard signs in (the cookie), as the operator.
      await page.evaluate(async (key) => {
        await fetch('/v1/owner/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: key }) });
      }, podA.apiKey);
      await page.reload();
      await page.waitForSelector('#peers tr[data-peer="pod-b"]');
      expect(await page.textContent('#pod-name')).toBe('pod pod-a');
      const row = await page.textContent('#peers tr[data-peer="pod-b"]');
      expect(row).toContain(podB.baseUrl);
      expect(row).toContain('active');
      expect(row).toContain(podB.signingKey.kid);
      // Priced as the cascade file prices it.
      expect(await page.textContent('#peers tr[data-peer="pod-b"] .tiers')).toBe('trd-tiny (as trd-tiny): 2000/6000 µcr per 1k prompt/completion tokens, costs 1000/3000 µcr per 1k prompt/completion tokens');
      expect(await page.textContent(`#peers tr[data-peer="pod-b"] .sent`)).toMatch(/^sent .+, countersigned .+/);

      await page.fill('#peer-name', 'pod-c');
      await page.fill('#peer-url', podB.baseUrl);
      await page.click('#add-peer button[type=submit]');
      await page.waitForSelector('#issued:not([hidden])');
      const issuedCredential = await page.textContent('#issued-credential');
      expect(issuedCredential).toMatch(/^trdp_/);
      expect((await podA.db.peer.findUniqueOrThrow({ where: { name: 'pod-c' } })).inboundCredentialSha256).toBe(createHash('sha256').update(issuedCredential!).digest('hex'));
      await page.waitForSelector('#peers tr[data-peer="pod-c"] .peer-status.awaiting_credential');
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/operator-peers.png', fullPage: true });

      page.once('dialog', (d) => void d.accept());
      await page.click('#peers tr[data-peer="pod-c"] button.revoke');
      await page.waitForSelector('#peers tr[data-peer="pod-c"] .peer-status.revoked');
      expect(await podA.db.peer.findUniqueOrThrow({ where: { name: 'pod-c' } })).toMatchObject({ revokedBy: (await findApiKey(podA.db, podA.apiKey))!.customerId });
    } finally {
      await page.close();
    }
  });

  test('a rewritten chain is caught from the peer’s countersigned head', async () => {
    // Pod A drops its chain's last receipt, as a pod hiding a job would.
    await podA.db.receipt.deleteMany({ where: { sessionId: SESSION, seq: 2 } });
    const seen = (await api(podB, 'GET', `/v1/federation/sightings?pod=pod-a&session=${SESSION}`, undefined, null)).json;
    expect(seen).toMatchObject({ consistent: false, unverified: 0, chain: { count: 2 } });
    expect(seen.sightings.find((s: { seq: number }) => s.seq === 2)).toMatchObject({
      consistent: false,
      detail: expect.stringMatching(/^rewritten: pod-b saw seq 2 = bafkrei\w+ at .*; the chain now ends before it \(2 receipts\)$/),
    });
    // The head B saw before it is still there, and still consistent.
    expect(seen.sightings.find((s: { seq: number }) => s.seq === 1)).toMatchObject({ consistent: true });

    // The chain A serves still verifies on its own; the verify page catches the rewrite from pod B's copy.
    const page = await verifyPage(browser, 'verify-web-federation-rewritten');
    expect(page.ok).toBe(false);
    expect(page.summary).toMatch(/^✗ Rewritten — 1 head that peers countersigned is not in this chain as served now\n✓ Chain verified — session federated-build-1: 2 receipts/);
    expect(page.sightings.filter((l) => !l.ok).map((l) => l.text)).toEqual([expect.stringMatching(/^✗ seq 2 bafkrei\w+ — rewritten: pod-b saw seq 2/)]);
  });
});

describe('a peer pod as a cascade tier', () => {
  test('a job sent up is served by the peer; its receipt is checked with the peer’s key, kept, and named in ours; the ledger owes the pod', async () => {
    const client = new OpenAI({ apiKey: podA.apiKey, baseURL: `${podA.baseUrl}/v1`, maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'trd-tiny', messages: [{ role: 'user', content: 'Served by a peer' }], max_tokens: 6, temperature: 0, trd_route: 'upstream' } as never)
      .withResponse();
    const jobId = response.headers.get('x-trd-job-id')!;
    expect(data).toMatchObject({ trd_served_by: 'pod:pod-b' });
    const receipt = (data as any).trd_receipt;
    expect(await verifyReceipt(receipt, podA.signingKey.publicKey)).toMatchObject({ ok: true });
    expect(receipt.envelope).toMatchObject({ served_by: 'pod:pod-b', upstream_model: 'trd-tiny', peer_receipt_cid: expect.stringMatching(/^bafkrei/) });

    // The receipt it names is pod B's own, of the job B ran on its runner, and pod A serves its bytes too.
    const peerJob = await podB.db.job.findFirstOrThrow({ where: { output: data.choices[0]!.message.content!, workerId: 'pod-b-runner' }, orderBy: { acceptedAt: 'desc' } });
    const peerReceipt = (await api(podB, 'GET', `/v1/receipts/${peerJob.id}`, undefined, null)).json;
    expect(await verifyReceipt(peerReceipt, podB.signingKey.publicKey)).toMatchObject({ ok: true });
    expect(await cidOfBytes(receiptDocumentBytes(peerReceipt))).toBe(receipt.envelope.peer_receipt_cid);
    const block = await fetch(`${podA.baseUrl}/ipfs/${receipt.envelope.peer_receipt_cid}?format=raw`);
    expect(Buffer.from(await block.arrayBuffer())).toEqual(Buffer.from(receiptDocumentBytes(peerReceipt)));

    const job = await podA.db.job.findUniqueOrThrow({ where: { id: jobId } });
    const entries = await podA.db.ledgerEntry.findMany({ where: { transactionId: `job:${jobId}` } });
    expect(Object.fromEntries(entries.map((e) => [e.account, Number(e.amount)]))).toEqual({
      [`customer:${job.customerId}`]: -Number(job.chargeMicrocredits),
      'pod:pod-b': Number(job.providerCostMicrocredits),
      'platform:revenue': Number(job.chargeMicrocredits) - Number(job.providerCostMicrocredits),
    });
    if (process.env.TRD_RECORD_HISTORIES) {
      const history = await podA.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
      writeFileSync(new URL('../fixtures/histories/inference-job-pod.json', import.meta.url), `${historyToJSON(history)}\n`);
    }
  });

  test('a peer whose receipt does not verify with the key this pod holds for it serves nothing: the job fails and nobody is owed', async () => {
    // As if pod B's key were another's: what A holds under B's key id is not B's key.
    const row = await podA.db.peer.findUniqueOrThrow({ where: { name: 'pod-b' } });
    const impostor = await signingKeyFromPem(generateSigningKeyPem());
    await podA.db.peer.update({ where: { name: 'pod-b' }, data: { keys: [{ kid: podB.signingKey.kid, public_key_pem: impostor.publicKeyPem }] } });
    try {
      const res = await api(podA, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'checked by key', max_tokens: 4, trd_route: 'upstream' });
      expect(res.json).toMatchObject({ status: 'failed', error: expect.stringMatching(/pod:pod-b: pod pod-b: its receipt does not verify: receipt names key ed25519-\w+, but the key given is/) });
      expect(await podA.db.ledgerEntry.count({ where: { transactionId: `job:${res.json.id}` } })).toBe(0);
    } finally {
      await podA.db.peer.update({ where: { name: 'pod-b' }, data: { keys: row.keys as object } });
    }
  });
});

describe('revocation', () => {
  test('a revoked peer is refused, its Schedule is gone, and an attestation sent to a pod that revoked it fails as refused', async () => {
    const revoked = await api(podB, 'POST', '/v1/operator/peers/pod-a/revoke');
    expect(revoked.json).toMatchObject({ status: 'revoked', revoked_by: (await findApiKey(podB.db, podB.apiKey))!.customerId, revoked_at: expect.any(String) });
    await expect(podB.client.schedule.getHandle(attestationScheduleId('pod-a')).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect(await api(podB, 'POST', '/v1/federation/attestations', first, issued.byB!)).toMatchObject({ status: 403, json: { error: { code: 'peer_revoked' } } });
    expect(await api(podB, 'PATCH', '/v1/operator/peers/pod-a', { quota_per_minute: 5 })).toMatchObject({ status: 409 });

    // Pod A still peers with B: its next attestation is refused by B, and the run says so.
    await runJob('step four');
    await expect(attest()).rejects.toMatchObject({ cause: { cause: { type: 'PeerRefused', message: expect.stringMatching(/refused the attestation \(403\).*revoked/) } } });
    const peerView = (await api(podA, 'GET', '/v1/operator/peers')).json.data[0];
    expect(peerView.attestations).toMatchObject({ awaiting_countersignature: 1 });
  });

  test('a pod that revoked its peer sends it no more jobs: the job fails, naming why', async () => {
    expect((await api(podA, 'POST', '/v1/operator/peers/pod-b/revoke')).json).toMatchObject({ status: 'revoked' });
    const res = await api(podA, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'after the revocation', max_tokens: 4, trd_route: 'upstream' });
    expect(res.json).toMatchObject({ status: 'failed', error: expect.stringMatching(/pod:pod-b: pod pod-b is not an active peer of this pod/) });
  });
});
