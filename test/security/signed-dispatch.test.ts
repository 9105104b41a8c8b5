/**
 * Signed dispatch on the real stack: a runner works only on tasks whose
 * envelope the platform signed for exactly that job, model and prompt, and
 * that have not expired. Tasks are put straight onto the runner's queue, as
 * someone who got into it would.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { NativeConnection, Worker } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { runnerQueue, sha256Hex, signDispatch, type InferenceTask, type SignedDispatch } from '@trd/protocol';
import { platformDataConverter } from '../../platform/payload-encryption.js';
import { signingKeyFromPem } from '../../platform/signing-key.js';
import { startStack, type TestStack } from '../support/stack.js';

const FORGER = fileURLToPath(new URL('../fixtures/workflows/forged-dispatch.ts', import.meta.url));
let stack: TestStack;
let worker: Worker;
let running: Promise<void>;
let connection: NativeConnection;
const RUNNER = 'dispatch-runner';

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner({ workerId: RUNNER });
  connection = await NativeConnection.connect({ address: stack.temporalAddress });
  worker = await Worker.create({ connection, namespace: stack.namespace, taskQueue: 'forger', workflowsPath: FORGER, dataConverter: platformDataConverter(stack.payloadKeys) });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await stack?.stop();
});

const task = (jobId = `job_${randomBytes(16).toString('hex')}`): InferenceTask => ({ jobId, model: 'trd-tiny', prompt: `dispatch ${jobId}`, maxTokens: 4, temperature: 0 });

async function envelope(t: InferenceTask, o: { expiresInMs?: number; secretKey?: Uint8Array; jobId?: string; prompt?: string } = {}): Promise<SignedDispatch> {
  return signDispatch(
    {
      job_id: o.jobId ?? t.jobId,
      model: t.model,
      prompt_sha256: await sha256Hex(o.prompt ?? t.prompt),
      attempt: 1,
      issued_at: new Date().toISOString(),
      expires_at: new Date(Date.now() + (o.expiresInMs ?? 60_000)).toISOString(),
    },
    o.secretKey ?? stack.signingKey.secretKey,
  );
}

function send(t: InferenceTask) {
  return stack.client.workflow.execute('forgedDispatch', { taskQueue: 'forger', workflowId: `forged-${randomBytes(6).toString('hex')}`, args: [runnerQueue(RUNNER), t] }) as Promise<
    { ok: true; text: string } | { ok: false; type: string | null; message: string }
  >;
}

describe('a task put straight onto a runner queue', () => {
  test('with the platform’s envelope for it: the runner does the work', async () => {
    const t = task();
    expect(await send({ ...t, dispatch: await envelope(t) })).toMatchObject({ ok: true });
  });

  test.each([
    ['unsigned', async (t: InferenceTask) => t, /carries no signed dispatch envelope/],
    ['expired', async (t: InferenceTask) => ({ ...t, dispatch: await envelope(t, { expiresInMs: -1000 }) }), /expired at/],
    ['signed for another job', async (t: InferenceTask) => ({ ...t, dispatch: await envelope(t, { jobId: 'job_' + 'a'.repeat(32) }) }), /is for job job_a+, the task is job/],
    ['signed for another prompt', async (t: InferenceTask) => ({ ...t, dispatch: await envelope(t, { prompt: 'something else' }) }), /prompt hash does not match/],
    [
      'signed by a key that is not the platform’s',
      async (t: InferenceTask) => {
        const other = await signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
        return { ...t, dispatch: await envelope(t, { secretKey: other.secretKey }) };
      },
      /not a platform key/,
    ],
    [
      'with claims changed after signing',
      async (t: InferenceTask) => {
        const e = await envelope(t);
        return { ...t, dispatch: { ...e, claims: { ...e.claims, expires_at: new Date(Date.now() + 86_400_000).toISOString() } } };
      },
      /signature does not verify/,
    ],
  ])('%s: refused before any work, and said why', async (_what, make, reason) => {
    const outcome = await send(await make(task()));
    expect(outcome).toMatchObject({ ok: false, type: 'DispatchRefused' });
    expect((outcome as { message: string }).message).toMatch(reason);
  });
});
