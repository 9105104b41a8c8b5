/**
 * Payload classes (platform/payload-classes.ts): the platform's codec names the class of each payload
 * from the workflow the SDK says it belongs to and binds it into the ciphertext; the codec server
 * (gateway/codec-server.ts) opens per payload what the caller's roles may read. Pure: no services.
 */
import { describe, expect, test } from '@jest/globals';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeForRoles } from '../../gateway/codec-server.js';
import { classesOpenedBy, payloadClassFor } from '../../platform/payload-classes.js';
import { decryptPayload, encryptPayload, newPayloadKey, payloadClassOf, payloadCodec, payloadKeysFromEnv } from '../../platform/payload-encryption.js';

const keys = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1') });
const codec = payloadCodec(keys);
const value = (v: unknown): Payload => defaultPayloadConverter.toPayload(v);
const b64 = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});
const text = (json: { data?: string | null }) => Buffer.from(json.data ?? '', 'base64').toString();
const sealFor = async (workflowId: string | undefined, v: unknown) =>
  (await codec.encode([value(v)], workflowId === undefined ? undefined : { type: 'activity', namespace: 'default', workflowId, isLocal: false }))[0];

describe('the class a payload is sealed with', () => {
  test('comes from the workflow it belongs to: payout runs, agent reviews; everything else is private', () => {
    expect(payloadClassFor('payout-settlement')).toBe('payout');
    expect(payloadClassFor('payout-settlement-2026-12-02T04:00:00Z')).toBe('payout');
    expect(payloadClassFor('agent-review-sub_0123456789abcdef0123456789abcdef')).toBe('agent-review');
    for (const id of ['inference-job_0123456789abcdef0123456789abcdef', 'audit:job_1', 'receipt-chain-s1', 'pin-bafk', 'reputation-sweep', 'payout-settlementX', 'agent-review-', undefined]) {
      expect([id, payloadClassFor(id)]).toEqual([id, 'private']);
    }
  });

  test('is named in the metadata by the codec and opens for the platform; payloads sealed before classes still open', async () => {
    const payout = await sealFor('payout-settlement-2026-12-02T04:00:00Z', { payoutId: 'po_1', usdCents: 4000 });
    const job = await codec.encode([value({ prompt: 'secret prompt' })], { type: 'workflow', namespace: 'default', workflowId: 'inference-job_1' });
    expect(payloadClassOf(payout)).toBe('payout');
    expect(payloadClassOf(job[0])).toBe('private');
    const old = encryptPayload(keys, value({ prompt: 'from before classes' }));
    expect(payloadClassOf(old)).toBeNull();
    const opened = await codec.decode([payout, job[0], old]);
    expect(opened.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ payoutId: 'po_1', usdCents: 4000 }, { prompt: 'secret prompt' }, { prompt: 'from before classes' }]);
  });

  test('is bound into the ciphertext: relabelled, stripped or added, the payload opens for nobody, the platform included', async () => {
    const job = await sealFor('inference-job_1', { prompt: 'secret prompt' });
    const relabelled = { ...job, metadata: { ...job.metadata, 'trd-payload-class': new TextEncoder().encode('payout') } };
    expect(() => decryptPayload(keys, relabelled)).toThrow(/its class relabelled/);
    const stripped = { ...job, metadata: Object.fromEntries(Object.entries(job.metadata!).filter(([k]) => k !== 'trd-payload-class')) };
    expect(() => decryptPayload(keys, stripped)).toThrow(/does not open/);
    const old = encryptPayload(keys, value({ prompt: 'x' }));
    expect(() => decryptPayload(keys, { ...old, metadata: { ...old.metadata, 'trd-payload-class': new TextEncoder().encode('payout') } })).toThrow(/does not open/);
    // And the codec server keeps it sealed for finance rather than failing the request.
    const out = decodeForRoles(keys, classesOpenedBy(['finance']), [b64(relabelled)]);
    expect(out.payloads[0]).toEqual(b64(relabelled));
    expect(out.classes).toEqual({ payout: { opened: 0, sealed: 1 } });
  });
});

describe('what the codec server opens for each role', () => {
  test('finance: payouts; reviewer: agent reviews; nobody: private or unclassified payloads; plain ones pass unchanged', async () => {
    const payout = b64(await sealFor('payout-settlement-2026-12-02T04:00:00Z', { payoutId: 'po_1', transferId: 'tr_1' }));
    const review = b64(await sealFor('agent-review-sub_0123456789abcdef0123456789abcdef', { action: 'approve' }));
    const prompt = b64(await sealFor('inference-job_1', { prompt: 'secret prompt' }));
    const old = b64(encryptPayload(keys, value({ prompt: 'old secret' })));
    const plain = b64(value(null));
    const all = [payout, review, prompt, old, plain];

    const finance = decodeForRoles(keys, classesOpenedBy(['finance']), all);
    expect(JSON.parse(text(finance.payloads[0]))).toEqual({ payoutId: 'po_1', transferId: 'tr_1' });
    expect(finance.payloads.slice(1)).toEqual([review, prompt, old, plain]);
    expect(finance.classes).toEqual({ payout: { opened: 1, sealed: 0 }, 'agent-review': { opened: 0, sealed: 1 }, private: { opened: 0, sealed: 2 } });
    expect(finance.opened).toBe(1);

    const reviewer = decodeForRoles(keys, classesOpenedBy(['reviewer']), all);
    expect(JSON.parse(text(reviewer.payloads[1]))).toEqual({ action: 'approve' });
    expect([reviewer.payloads[0], ...reviewer.payloads.slice(2)]).toEqual([payout, prompt, old, plain]);

    const both = decodeForRoles(keys, classesOpenedBy(['finance', 'reviewer']), all);
    expect(both.opened).toBe(2);
    expect(both.payloads.slice(2)).toEqual([prompt, old, plain]);

    const none = decodeForRoles(keys, classesOpenedBy([]), all);
    expect(none.payloads).toEqual(all);
    expect(none.opened).toBe(0);
    // No role opens private payloads, whatever it is called.
    expect([...classesOpenedBy(['finance', 'reviewer', 'admin', 'platform'])].sort()).toEqual(['agent-review', 'payout']);
  });

  test('a payload under a key this gateway lacks stays sealed instead of failing the page', async () => {
    const other = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k9') });
    const foreign = b64((await payloadCodec(other).encode([value({ payoutId: 'po_9' })], { type: 'workflow', namespace: 'default', workflowId: 'payout-settlement' }))[0]);
    const out = decodeForRoles(keys, classesOpenedBy(['finance']), [foreign]);
    expect(out.payloads).toEqual([foreign]);
    expect(out.classes).toEqual({ payout: { opened: 0, sealed: 1 } });
  });
});
