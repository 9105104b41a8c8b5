/** The signed dispatch envelope on its own: what verifies, and every way it must not. */
import { describe, expect, test } from '@jest/globals';
import * as ed from '@noble/ed25519';
import { dispatchProblem, keyIdFor, sha256Hex, signDispatch, type TrustedKey } from '@trd/protocol';

const secret = ed.utils.randomSecretKey();
const task = { jobId: 'job_' + '1'.repeat(32), model: 'trd-tiny', prompt: 'hello' };
const now = new Date('2026-11-26T12:00:00.000Z');

async function keys(retiredAt: string | null = null): Promise<Map<string, TrustedKey>> {
  const publicKey = await ed.getPublicKeyAsync(secret);
  const kid = await keyIdFor(publicKey);
  return new Map([[kid, { kid, publicKey, retiredAt }]]);
}

async function envelope(o: Partial<{ job_id: string; prompt: string; issued_at: string; expires_at: string }> = {}) {
  return signDispatch(
    {
      job_id: o.job_id ?? task.jobId,
      model: task.model,
      prompt_sha256: await sha256Hex(o.prompt ?? task.prompt),
      attempt: 1,
      issued_at: o.issued_at ?? '2026-11-26T11:59:00.000Z',
      expires_at: o.expires_at ?? '2026-11-26T12:05:00.000Z',
    },
    secret,
  );
}

describe('a dispatch envelope', () => {
  test('signed by a platform key for this job, model and prompt, not expired: accepted', async () => {
    expect(await dispatchProblem(await envelope(), task, await keys(), now)).toBeNull();
  });

  test.each([
    ['missing', async () => undefined, /carries no signed dispatch envelope/],
    ['expired', async () => envelope({ expires_at: '2026-11-26T11:59:59.999Z' }), /expired/],
    ['for another job', async () => envelope({ job_id: 'job_' + '2'.repeat(32) }), /is for job/],
    ['for another prompt', async () => envelope({ prompt: 'goodbye' }), /prompt hash/],
    ['altered after signing', async () => ({ ...(await envelope()), claims: { ...(await envelope()).claims, attempt: 2 } }), /does not verify/],
    ['with a bad signature encoding', async () => ({ ...(await envelope()), signature: 'not base64!' }), /not base64/],
    ['with a malformed claim', async () => ({ ...(await envelope()), claims: { ...(await envelope()).claims, expires_at: 'soon' } }), /malformed/],
  ])('%s: refused with the reason', async (_what, make, reason) => {
    expect(await dispatchProblem(await make(), task, await keys(), now)).toMatch(reason);
  });

  test('signed by an unknown key, or issued after its key was retired: refused', async () => {
    expect(await dispatchProblem(await envelope(), task, new Map(), now)).toMatch(/not a platform key/);
    expect(await dispatchProblem(await envelope(), task, await keys('2026-11-26T11:00:00.000Z'), now)).toMatch(/after key .* was retired/);
    expect(await dispatchProblem(await envelope({ issued_at: '2026-11-26T10:00:00.000Z' }), task, await keys('2026-11-26T11:00:00.000Z'), now)).toBeNull();
  });

  test('for another model: refused', async () => {
    expect(await dispatchProblem(await envelope(), { ...task, model: 'other-model' }, await keys(), now)).toMatch(/is for model trd-tiny/);
  });
});
