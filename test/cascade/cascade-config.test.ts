/**
 * The cascade's pure parts: the tiers file is checked field by field (a bad
 * one names the entry and the field), the price rule is stated once and
 * holds for both units, and a receipt served upstream names its tier and no
 * worker while every older receipt still verifies.
 */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signReceipt, verifyReceipt } from '@trd/protocol';
import { networkShareBps, throughNetwork } from '../../cascade/share.js';
import { cascadeFromEnv, parseCascade, readApiKey, tierLabel, tiersFor, upstreamTiersFor, type ProviderTier } from '../../cascade/config.js';
import { chargeMicrocredits, upstreamChargeMicrocredits } from '../../economy/billing.js';
import { upstreamSettlement } from '../../economy/ledger.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../platform/signing-key.js';
import { RECEIPT_FIELDS } from '../support/receipt-fields.js';

const provider = {
  kind: 'provider',
  name: 'acme',
  baseUrl: 'https://api.acme.example/v1/',
  model: 'acme-small',
  apiKey: { env: 'ACME_KEY' },
  price: { per: 'token', promptMicrocreditsPer1k: 300, completionMicrocreditsPer1k: 900 },
  cost: { per: 'token', promptMicrocreditsPer1k: 100, completionMicrocreditsPer1k: 600 },
  timeoutMs: 30_000,
  concurrency: 4,
};
const pod = {
  kind: 'pod',
  name: 'pod-b',
  model: 'trd-tiny',
  apiKey: { file: '/run/secrets/pod-b' },
  price: provider.price,
  cost: provider.cost,
  timeoutMs: 30_000,
  concurrency: 2,
};
const config = (models: unknown) => ({ version: 1, models });

describe('the tiers file', () => {
  test('a model has its own tiers, else its kind’s, else the network alone; what a job carries has no secrets', () => {
    const c = parseCascade(config({ 'trd-tiny': [{ kind: 'network' }, provider], 'kind:instruct': [{ kind: 'network' }, { ...provider, name: 'other' }] }));
    expect(tiersFor(c, 'trd-tiny').map((t) => t.kind)).toEqual(['network', 'provider']);
    expect((tiersFor(c, 'trd-tiny')[1] as ProviderTier).baseUrl).toBe('https://api.acme.example/v1');
    expect(upstreamTiersFor(c, 'smollm2-135m-instruct').map((t) => t.name)).toEqual(['other']);
    expect(tiersFor(c, 'gemma3-270m')).toEqual([{ kind: 'network' }]);
    const [carried] = upstreamTiersFor(c, 'trd-tiny');
    expect(carried).toEqual({ name: 'acme', price: provider.price, cost: provider.cost, timeoutMs: 30_000, maxAttempts: 2, retryInitialIntervalMs: 500 });
    expect(JSON.stringify(carried)).not.toMatch(/ACME_KEY|acme\.example/);
    expect(cascadeFromEnv({})).toEqual({ version: 1, models: {} });
  });

  test('a peer pod is a tier too: a job carries its kind, and neither its key file nor an address (those are the peers table’s)', () => {
    const c = parseCascade(config({ 'trd-tiny': [{ kind: 'network' }, provider, pod] }));
    expect(tiersFor(c, 'trd-tiny').map(tierLabel)).toEqual(['network', 'provider:acme', 'pod:pod-b']);
    const carried = upstreamTiersFor(c, 'trd-tiny');
    expect(carried[1]).toEqual({ name: 'pod-b', kind: 'pod', price: provider.price, cost: provider.cost, timeoutMs: 30_000, maxAttempts: 2, retryInitialIntervalMs: 500 });
    expect(carried[0]).not.toHaveProperty('kind');
    expect(JSON.stringify(carried)).not.toContain('/run/secrets');
    // A provider and a pod may share a name: they are two tiers.
    expect(() => parseCascade(config({ 'trd-tiny': [{ ...provider, name: 'pod-b' }, pod] }))).not.toThrow();
  });

  test.each([
    ['an unknown model', config({ 'no-such-model': [provider] }), /models\.no-such-model: "no-such-model" is not a model of the catalog/],
    ['the network after a provider', config({ 'trd-tiny': [provider, { kind: 'network' }] }), /models\.trd-tiny: the network can only be the first tier/],
    ['a tier twice', config({ 'trd-tiny': [provider, provider] }), /a tier appears twice/],
    ['a cost above the price', config({ 'trd-tiny': [{ ...provider, cost: { ...provider.cost, completionMicrocreditsPer1k: 901 } }] }), /cost: cost exceeds price/],
    ['price and cost in two units', config({ 'trd-tiny': [{ ...provider, cost: { per: 'second', creditsPerHour: 1 } }] }), /cost: price and cost must be per the same unit/],
    ['a fractional price', config({ 'trd-tiny': [{ ...provider, price: { ...provider.price, promptMicrocreditsPer1k: 1.5 } }] }), /price\.promptMicrocreditsPer1k/],
    ['a bad base URL', config({ 'trd-tiny': [{ ...provider, baseUrl: 'ftp://x' }] }), /baseUrl: must be an http\(s\) URL/],
    ['an unknown field', config({ 'trd-tiny': [{ ...provider, retries: 3 }] }), /retries/],
    ['one provider with two limits', config({ 'trd-tiny': [provider], 'gemma3-270m': [{ ...provider, concurrency: 5 }] }), /provider "acme" has two concurrency limits/],
    ['one pod with two limits', config({ 'trd-tiny': [pod], 'gemma3-270m': [{ ...pod, concurrency: 5 }] }), /pod "pod-b" has two concurrency limits/],
    ['a pod with no API key', config({ 'trd-tiny': [{ ...pod, apiKey: undefined }] }), /apiKey/],
    ['a pod with a base URL (its address is the peers table’s)', config({ 'trd-tiny': [{ ...pod, baseUrl: 'https://pod-b.example' }] }), /baseUrl/],
  ])('refuses %s, naming the field', (_what, data, message) => {
    expect(() => parseCascade(data, 'cascade.json')).toThrow(message);
  });

  test('TRD_CASCADE_FILE: an unreadable or non-JSON file is a clear error; the API key comes from a file or the environment when needed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-'));
    expect(() => cascadeFromEnv({ TRD_CASCADE_FILE: join(dir, 'missing.json') })).toThrow(/TRD_CASCADE_FILE: cannot read/);
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(() => cascadeFromEnv({ TRD_CASCADE_FILE: join(dir, 'bad.json') })).toThrow(/is not JSON/);
    writeFileSync(join(dir, 'key'), 'sk-from-file\n');
    const c = parseCascade(config({ 'trd-tiny': [provider, { ...provider, name: 'filed', apiKey: { file: join(dir, 'key') } }] }));
    const [byEnv, byFile] = tiersFor(c, 'trd-tiny') as ProviderTier[];
    expect(readApiKey(byEnv!, { ACME_KEY: 'sk-env' })).toBe('sk-env');
    expect(() => readApiKey(byEnv!, {})).toThrow(/provider acme: ACME_KEY is not set/);
    expect(readApiKey(byFile!, {})).toBe('sk-from-file');
  });
});

describe('the upstream price rule', () => {
  test('per token: prompt and completion at their rates per 1000, summed, rounded half up to the microcredit', () => {
    const price = { per: 'token', promptMicrocreditsPer1k: 300, completionMicrocreditsPer1k: 900 } as const;
    expect(upstreamChargeMicrocredits(price, { promptTokens: 10, completionTokens: 20, answerMs: 99 })).toBe(21); // 3 + 18
    expect(upstreamChargeMicrocredits(price, { promptTokens: 1, completionTokens: 0, answerMs: 0 })).toBe(0); // 0.3 rounds down
    expect(upstreamChargeMicrocredits({ ...price, promptMicrocreditsPer1k: 500 }, { promptTokens: 1, completionTokens: 0, answerMs: 0 })).toBe(1); // 0.5 rounds up
    expect(() => upstreamChargeMicrocredits(price, { promptTokens: -1, completionTokens: 0, answerMs: 0 })).toThrow(RangeError);
  });

  test('per second: the network’s rule over the answer time', () => {
    expect(upstreamChargeMicrocredits({ per: 'second', creditsPerHour: 36 }, { promptTokens: 5, completionTokens: 5, answerMs: 1234 })).toBe(chargeMicrocredits(1234, 36));
  });

  test('the settlement: the customer pays the price, the provider is owed its cost, the platform keeps the margin, no runner', () => {
    const t = upstreamSettlement('job_x', 'cus_1', { servedBy: 'provider:acme', chargeMicrocredits: 21, providerCostMicrocredits: 13 });
    expect(t).toMatchObject({ id: 'job:job_x', kind: 'job_charge_upstream' });
    expect(t.postings).toEqual([
      { account: 'customer:cus_1', amount: -21 },
      { account: 'provider:acme', amount: 13 },
      { account: 'platform:revenue', amount: 8 },
    ]);
  });
});

describe('receipts served upstream', () => {
  const { worker_id: _w, model_sha256: _m, ...common } = RECEIPT_FIELDS;
  const upstream = { ...common, job_id: 'job_up', issued_at: '2026-03-01T00:00:02.000Z', served_by: 'provider:acme', upstream_model: 'acme-small' };

  test('name the tier and the upstream model, no worker and no model hash, and verify', async () => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    const receipt = await signReceipt(upstream, key.secretKey);
    expect(receipt.envelope).not.toHaveProperty('worker_id');
    expect(await verifyReceipt(receipt, key.publicKey)).toEqual({ ok: true, kid: key.kid });
    // One changed byte of who served it is caught.
    expect(await verifyReceipt({ ...receipt, envelope: { ...receipt.envelope, served_by: 'provider:acmf' } }, key.publicKey)).toMatchObject({ ok: false, reason: /signature/ });
    // A peer pod's names the pod's own receipt, and that is signed too.
    const byPod = await signReceipt({ ...upstream, served_by: 'pod:pod-b', peer_receipt_cid: `bafkrei${'a'.repeat(52)}` }, key.secretKey);
    expect(await verifyReceipt(byPod, key.publicKey)).toEqual({ ok: true, kid: key.kid });
    expect(await verifyReceipt({ ...byPod, envelope: { ...byPod.envelope, peer_receipt_cid: `bafkrei${'b'.repeat(52)}` } }, key.publicKey)).toMatchObject({ ok: false, reason: /signature/ });
  });

  test('a receipt from before the cascade (no served_by) still verifies, and so does one saying network', async () => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    const old = await signReceipt({ ...RECEIPT_FIELDS, job_id: 'job_old', issued_at: '2026-03-01T00:00:02.000Z' }, key.secretKey);
    expect(Object.keys(old.envelope)).not.toContain('served_by');
    expect(await verifyReceipt(old, key.publicKey)).toEqual({ ok: true, kid: key.kid });
    const network = await signReceipt({ ...RECEIPT_FIELDS, job_id: 'job_net', issued_at: '2026-03-01T00:00:02.000Z', served_by: 'network' }, key.secretKey);
    expect(await verifyReceipt(network, key.publicKey)).toEqual({ ok: true, kid: key.kid });
  });

  test.each([
    ['a worker id beside a provider', { ...upstream, worker_id: 'runner-a' }, /"worker_id" must be absent: provider:acme served the job/],
    ['a model hash beside a provider', { ...upstream, model_sha256: 'a'.repeat(64) }, /"model_sha256" must be absent/],
    ['no upstream model', { ...upstream, upstream_model: undefined }, /"upstream_model" must be the upstream's model name/],
    ['a malformed tier', { ...upstream, served_by: 'someone' }, /"served_by" must be network, provider:<name> or pod:<name>/],
    ['an upstream model on a runner’s receipt', { ...RECEIPT_FIELDS, job_id: 'j', issued_at: upstream.issued_at, upstream_model: 'x' }, /"upstream_model" is only for a job served upstream/],
    ['a network receipt without its worker', { ...common, job_id: 'j', issued_at: upstream.issued_at }, /"worker_id" must be a non-empty string/],
    ['a pod’s receipt without the pod’s own', { ...upstream, served_by: 'pod:pod-b' }, /"peer_receipt_cid" must be the CID of the serving pod's receipt/],
    ['a peer receipt on a provider’s', { ...upstream, peer_receipt_cid: `bafkrei${'a'.repeat(52)}` }, /"peer_receipt_cid" is only for a job a peer pod served/],
    ['a peer receipt on a runner’s', { ...RECEIPT_FIELDS, job_id: 'j', issued_at: upstream.issued_at, peer_receipt_cid: `bafkrei${'a'.repeat(52)}` }, /"peer_receipt_cid" is only for a job a peer pod served/],
  ])('refuse %s', async (_what, fields, message) => {
    const key = await signingKeyFromPem(generateSigningKeyPem());
    const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    await expect(signReceipt(clean as never, key.secretKey)).rejects.toThrow(message);
  });
});

describe('front-of-chain share', () => {
  const c = parseCascade({
    ...config({ 'trd-tiny': [{ kind: 'network' }, provider] }),
    shares: [
      { match: { header: { name: 'X-TRD-Traffic', value: 'platform' } }, networkBps: 2500 },
      { match: { customerId: 'cus_big', apiKeyId: 'key_1' }, networkBps: 0 },
    ],
  });
  const job = (o: { customerId?: string; apiKeyId?: string; traffic?: string }) => ({
    customerId: o.customerId ?? 'cus_x',
    apiKeyId: o.apiKeyId,
    header: (name: string) => (name.toLowerCase() === 'x-trd-traffic' ? o.traffic : undefined),
  });

  test('the first rule whose every field matches decides; no rule, no share', () => {
    expect(networkShareBps(c, job({ traffic: 'platform' }))).toBe(2500);
    expect(networkShareBps(c, job({ customerId: 'cus_big', apiKeyId: 'key_1' }))).toBe(0);
    expect(networkShareBps(c, job({ customerId: 'cus_big', apiKeyId: 'key_2' }))).toBeNull();
    expect(networkShareBps(c, job({ traffic: 'other' }))).toBeNull();
  });

  test('chosen from the job id: the same every time, and about the share of many ids', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `job_${i.toString(16).padStart(32, '0')}`);
    const through = ids.filter((id) => throughNetwork(id, 2500)).length;
    expect(through / ids.length).toBeGreaterThan(0.22);
    expect(through / ids.length).toBeLessThan(0.28);
    expect(ids.map((id) => throughNetwork(id, 2500))).toEqual(ids.map((id) => throughNetwork(id, 2500)));
    expect(ids.every((id) => !throughNetwork(id, 0) && throughNetwork(id, 10_000))).toBe(true);
  });

  test('refuses a rule that matches nothing or a share out of range', () => {
    expect(() => parseCascade({ ...config({}), shares: [{ match: {}, networkBps: 10 }] })).toThrow(/shares\.0\.match: needs apiKeyId, customerId or header/);
    expect(() => parseCascade({ ...config({}), shares: [{ match: { customerId: 'c' }, networkBps: 10_001 }] })).toThrow(/shares\.0\.networkBps/);
  });
});
