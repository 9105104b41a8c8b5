/**
 * The pure parts of the runner endpoint and of payload sealing: which calls
 * and queues a runner may use, and that sealed payloads open only with the
 * key they name (so keys rotate) and never after tampering.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { decryptPayload, encryptPayload, isEncrypted, newPayloadKey, payloadCodec, payloadKeysFromEnv } from '../../platform/payload-encryption.js';
import { refusedPayloadReason } from '@trd/protocol';
import { queueProblem, ruleFor, type Entitlement } from '../../runner-proxy/policy.js';
import { fuzz } from '../fuzz/fuzz-settings.js';

const payload = (text: string) => ({ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode(JSON.stringify(text)) });
const text = (p: { data?: Uint8Array | null }) => JSON.parse(new TextDecoder().decode(p.data!));

describe('payload sealing', () => {
  test('a sealed payload opens to the original with the key it names, after rotation too', () => {
    const k1 = newPayloadKey('k1');
    const before = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: k1 });
    const sealed = encryptPayload(before, payload('a customer prompt'));
    expect(isEncrypted(sealed)).toBe(true);
    expect(Buffer.from(sealed.data!).toString('latin1')).not.toContain('customer prompt');
    // Rotation, phase 1: a new key is appended but the old one still seals; every replica can now open both.
    const k2 = newPayloadKey('k2');
    expect(() => payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: `${k1},${k2}` })).toThrow(/set TRD_PAYLOAD_KEY_ID to the one that seals/);
    const published = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: `${k1},${k2}`, TRD_PAYLOAD_KEY_ID: 'k1' });
    expect(new TextDecoder().decode(encryptPayload(published, payload('x')).metadata!['encryption-key-id'])).toBe('k1');
    // Phase 2: the new key seals; a replica still in phase 1 opens what it seals, and the old key opens what it sealed.
    const after = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: `${k1},${k2}`, TRD_PAYLOAD_KEY_ID: 'k2' });
    expect(after.activeId).toBe('k2');
    expect(text(decryptPayload(published, encryptPayload(after, payload('sealed by a phase-2 replica'))))).toBe('sealed by a phase-2 replica');
    expect(text(decryptPayload(after, sealed))).toBe('a customer prompt');
    expect(new TextDecoder().decode(encryptPayload(after, payload('x')).metadata!['encryption-key-id'])).toBe('k2');
    // A plain payload is refused: it came from outside the platform; only histories from before sealing, behind the setting, pass.
    expect(() => decryptPayload(after, payload('forged'))).toThrow(/refusing a payload that was not sealed/);
    expect(text(decryptPayload({ ...after, acceptUnsealed: true }, payload('old')))).toBe('old');
    // Temporal's own detail for an activity cancelled before it started passes as it is; anything else in its place does not.
    const serverDetail = (data: string) => ({ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode(data) });
    expect(text(decryptPayload(after, serverDetail('"ACTIVITY_ID_NOT_STARTED"')))).toBe('ACTIVITY_ID_NOT_STARTED');
    expect(() => decryptPayload(after, serverDetail('{"text":"forged"}'))).toThrow(/refusing a payload that was not sealed/);
    expect(payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: k1, TRD_PAYLOAD_ACCEPT_UNSEALED: '1' }).acceptUnsealed).toBe(true);
    expect(() => payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: k1, TRD_PAYLOAD_ACCEPT_UNSEALED: 'yes' })).toThrow(/TRD_PAYLOAD_ACCEPT_UNSEALED is 1/);
  });

  test("the orchestrator's codec reads an unsealed payload as a refusal with its reason, none of its bytes; anything else it cannot open still throws", async () => {
    const keys = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1') });
    const [placeholder] = await payloadCodec(keys, 'placeholder').decode([payload('forged output')]);
    expect(new TextDecoder().decode(placeholder.data!)).not.toContain('forged');
    expect(refusedPayloadReason(text(placeholder))).toMatch(/refusing a payload that was not sealed/);
    await expect(payloadCodec(keys).decode([payload('forged output')])).rejects.toThrow(/refusing a payload that was not sealed/);
    const foreign = encryptPayload(payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k9') }), payload('x'));
    await expect(payloadCodec(keys, 'placeholder').decode([foreign])).rejects.toThrow(/which this process does not have/);
    const [sealed] = await payloadCodec(keys, 'placeholder').decode([encryptPayload(keys, payload('a real result'))]);
    expect(text(sealed)).toBe('a real result');
  });

  test('a key it does not have, or any flipped byte, is refused with a reason', async () => {
    const keys = payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1') });
    const sealed = encryptPayload(keys, payload('secret'));
    expect(() => decryptPayload(payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k9') }), sealed)).toThrow(/key "k1", which this process does not have/);
    expect(() => decryptPayload(payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1') }), sealed)).toThrow(/does not open/);
    await fuzz(
      fc.property(fc.nat({ max: sealed.data!.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, flip) => {
        const data = Uint8Array.from(sealed.data!);
        data[i] ^= flip;
        expect(() => decryptPayload(keys, { ...sealed, data })).toThrow(/does not open|too short/);
      }),
    );
  });

  test('bad key settings say what is wrong', () => {
    expect(() => payloadKeysFromEnv({})).toThrow(/TRD_PAYLOAD_KEYS is not set/);
    expect(() => payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: 'k1:c2hvcnQ=' })).toThrow(/AES-256 needs 32/);
    expect(() => payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: `${newPayloadKey('k1')},${newPayloadKey('k1')}` })).toThrow(/given twice/);
    expect(() => payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: newPayloadKey('k1'), TRD_PAYLOAD_KEY_ID: 'k2' })).toThrow(/not one of the ids/);
  });
});

describe('what a runner may call and poll', () => {
  const ent: Entitlement = { runnerId: 'r1', tier: 'verified', models: ['trd-tiny'], cutOff: null };

  test('its own queue and its models at its tier and below; nothing else', () => {
    expect(queueProblem(ent, 'runner.r1')).toBeNull();
    for (const q of ['model.trd-tiny.warm.probation', 'model.trd-tiny.cold.verified']) expect(queueProblem(ent, q)).toBeNull();
    expect(queueProblem(ent, 'model.trd-tiny.warm.trusted')).toMatch(/is verified; the trusted queues/);
    expect(queueProblem(ent, 'model.other.warm.probation')).toMatch(/does not serve other/);
    expect(queueProblem(ent, 'runner.r2')).toMatch(/not a runner's queue/);
    expect(queueProblem(ent, 'orchestrator')).toMatch(/not a runner's queue/);
    expect(queueProblem(ent, 'model.trd-tiny')).toMatch(/not a runner's queue/);
  });

  test('any other queue name is refused, and never throws', async () => {
    const allowed = new Set(['runner.r1', 'model.trd-tiny.warm.probation', 'model.trd-tiny.cold.probation', 'model.trd-tiny.warm.verified', 'model.trd-tiny.cold.verified']);
    await fuzz(
      fc.property(fc.oneof(fc.string(), fc.constantFrom(...allowed).map((q) => q + 'x'), fc.constantFrom(...allowed)), (q) => {
        expect(queueProblem(ent, q) === null).toBe(allowed.has(q));
      }),
    );
  });

  test("only an activity worker's calls pass", () => {
    expect(ruleFor('/temporal.api.workflowservice.v1.WorkflowService/PollActivityTaskQueue').kind).toBe('poll');
    expect(ruleFor('/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskCompleted')).toMatchObject({ kind: 'task', endsTask: true });
    for (const m of ['StartWorkflowExecution', 'SignalWorkflowExecution', 'TerminateWorkflowExecution', 'GetWorkflowExecutionHistory', 'PollWorkflowTaskQueue', 'RespondActivityTaskCompletedById', 'toString', '__proto__']) {
      expect(() => ruleFor(`/temporal.api.workflowservice.v1.WorkflowService/${m}`)).toThrow(/runners may not call/);
    }
    expect(() => ruleFor('/temporal.api.operatorservice.v1.OperatorService/DeleteNamespace')).toThrow(/runners may not call/);
  });
});
