/**
 * Two runner endpoint replicas (runner-proxy/main.ts processes) in front of
 * the same Temporal: a task polled through one is heartbeated and completed
 * through the other, because the task token the runner holds says whose task
 * it is (runner-proxy/task-binding.ts), not a replica's memory. And a result
 * that skips the endpoint (plaintext, straight to Temporal's frontend) is
 * refused by the orchestrator (every platform writer seals): that attempt ends
 * as an invalid result and the job goes back to the queues.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { readFileSync } from 'node:fs';
import { workflowIdForJob } from '@trd/protocol';
import { createRunnerToken } from '../../gateway/runners.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

let stack: TestStack;
const RUNNER = 'replica-runner';
const PERMISSION_DENIED = 7;
const DEADLINE_EXCEEDED = 4;

beforeAll(async () => {
  stack = await startStack({ replicas: { runnerEndpoint: 2 } });
});

afterAll(async () => {
  await stack?.stop();
});

const connect = (address: string, token: string) =>
  Connection.connect({
    address,
    tls: { serverRootCACertificate: readFileSync(stack.runnerEndpoint.tls.caFile), serverNameOverride: stack.runnerEndpoint.tls.serverName },
    metadata: { authorization: `Bearer ${token}` },
  });

function grpcCode(err: unknown): number | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++, e = e.cause as typeof e) if (typeof e.code === 'number') return e.code;
  return undefined;
}

const json = (v: unknown) => ({ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode(JSON.stringify(v)) });

test('a task polled through one replica is heartbeated and completed through the other; no other runner can use its token', async () => {
  const token = await createRunnerToken(stack.db, RUNNER, 'probation');
  const other = await createRunnerToken(stack.db, 'replica-other', 'probation');
  await stack.db.runner.update({ where: { id: RUNNER }, data: { loadedModels: ['trd-tiny'] } });
  const [a, b, bOther] = await Promise.all([
    connect(stack.runnerEndpoint.addresses[0], token),
    connect(stack.runnerEndpoint.addresses[1], token),
    connect(stack.runnerEndpoint.addresses[1], other),
  ]);
  try {
    const job = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'Across replicas', max_tokens: 4 });
    expect(job.status).toBe(202);
    // The job waits on the warm queue, then the cold one: poll both through replica A until one hands it out.
    let task: proto.temporal.api.workflowservice.v1.IPollActivityTaskQueueResponse | null = null;
    for (let i = 0; i < 10 && !task; i++) {
      const polls = ['model.trd-tiny.warm.probation', 'model.trd-tiny.cold.probation'].map((queue) =>
        a.withDeadline(Date.now() + 3000, () => a.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: queue }, identity: RUNNER })),
      );
      for (const answer of await Promise.all(polls)) if (answer.taskToken?.length && answer.activityType?.name === 'runInference') task = answer;
    }
    expect(task).not.toBeNull();
    const taskToken = task!.taskToken!;
    // What the runner holds is the endpoint's binding, not Temporal's token.
    expect(Buffer.from(taskToken).subarray(0, 5).toString()).toBe('trdT1');

    // The same runner through replica B: heartbeat, then the result.
    await b.workflowService.recordActivityTaskHeartbeat({ namespace: stack.namespace, taskToken, identity: RUNNER });

    // Another runner's token, or a binding with one byte changed, is refused on B.
    const refused = async (call: Promise<unknown>) => expect(grpcCode(await call.then(() => null, (e: unknown) => e))).toBe(PERMISSION_DENIED);
    await refused(bOther.workflowService.recordActivityTaskHeartbeat({ namespace: stack.namespace, taskToken, identity: 'replica-other' }));
    const flipped = Buffer.from(taskToken);
    flipped[flipped.length - 20] ^= 1;
    await refused(b.workflowService.recordActivityTaskHeartbeat({ namespace: stack.namespace, taskToken: flipped, identity: RUNNER }));

    const now = new Date().toISOString();
    await b.workflowService.respondActivityTaskCompleted({
      namespace: stack.namespace,
      taskToken,
      identity: RUNNER,
      result: {
        payloads: [
          json({
            workerId: RUNNER,
            model: 'trd-tiny',
            modelSha256: '9c7a9e84c91e8d0a1d1e3463628b395b83ece9524fe5f0131586d51ac573ca71',
            text: 'completed through replica two',
            promptTokens: 3,
            completionTokens: 4,
            finishReason: 'length',
            startedAt: now,
            finishedAt: now,
            timings: { modelLoadMs: 0, timeToFirstTokenMs: 1, generationMs: 1 },
          }),
        ],
      },
    });
    // Temporal took the result: the job succeeded with it, on the first attempt.
    const done = await waitForJob(stack, job.json.id, (j) => j.status !== 'queued' && j.status !== 'running', 30_000);
    expect(done).toMatchObject({ status: 'succeeded', output: 'completed through replica two', worker_id: RUNNER });
    // Done is done: a second completion through A is Temporal's to refuse (the task is gone), not a replica's memory.
    const again = await a.workflowService.respondActivityTaskCompleted({ namespace: stack.namespace, taskToken, identity: RUNNER }).then(() => null, (e: unknown) => e);
    expect(grpcCode(again)).toBe(5);
  } finally {
    await Promise.all([a.close(), b.close(), bOther.close()]);
  }
}, 120_000);

/** Polls the queues (each for up to 3 s at a time) until one hands out the job's runInference task. */
async function pollTask(conn: Connection, queues: string[], identity: string): Promise<proto.temporal.api.workflowservice.v1.IPollActivityTaskQueueResponse | null> {
  for (let i = 0; i < 10; i++) {
    const polls = queues.map((queue) =>
      conn
        .withDeadline(Date.now() + 3000, () => conn.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: queue }, identity }))
        .catch((err: unknown) => {
          if (grpcCode(err) === DEADLINE_EXCEEDED) return null;
          throw err;
        }),
    );
    for (const answer of await Promise.all(polls)) if (answer?.taskToken?.length && answer.activityType?.name === 'runInference') return answer;
  }
  return null;
}

const resultPayload = (workerId: string, text: string) => {
  const now = new Date().toISOString();
  return json({
    workerId,
    model: 'trd-tiny',
    modelSha256: '9c7a9e84c91e8d0a1d1e3463628b395b83ece9524fe5f0131586d51ac573ca71',
    text,
    promptTokens: 3,
    completionTokens: 2,
    finishReason: 'stop',
    startedAt: now,
    finishedAt: now,
    timings: { modelLoadMs: 0, timeToFirstTokenMs: 1, generationMs: 1 },
  });
};

test("a plaintext result sent straight to Temporal's frontend is refused: the attempt ends as an invalid result and the job re-queues", async () => {
  const direct = await Connection.connect({ address: stack.temporalAddress });
  // A runner entitled to the model's queues (its model loaded), polling through the endpoint.
  const token = await createRunnerToken(stack.db, 'honest-runner', 'probation');
  await stack.db.runner.update({ where: { id: 'honest-runner' }, data: { loadedModels: ['trd-tiny'] } });
  const honest = await connect(stack.runnerEndpoint.addresses[1], token);
  try {
    const job = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'Forge me', max_tokens: 4 });
    const queues = ['model.trd-tiny.warm.probation', 'model.trd-tiny.cold.probation'];
    const stolen = await pollTask(direct, queues, 'forger');
    expect(stolen).not.toBeNull();
    await direct.workflowService.respondActivityTaskCompleted({ namespace: stack.namespace, taskToken: stolen!.taskToken, identity: 'forger', result: { payloads: [resultPayload('forger', 'forged output')] } });

    // The orchestrator does not open it, and says why on the job's record; its workflow task never fails.
    const deadline = Date.now() + 30_000;
    let attempt = null;
    while (!attempt && Date.now() < deadline) {
      attempt = await stack.db.jobAttempt.findFirst({ where: { jobId: job.json.id } });
      if (!attempt) await new Promise((r) => setTimeout(r, 200));
    }
    expect(attempt).toMatchObject({ workerId: 'unidentified', outcome: 'invalid_result', detail: expect.stringMatching(/refusing a payload that was not sealed/) });

    // The job went back to the queues: a runner polling through the endpoint gets it and its sealed result counts.
    const task = await pollTask(honest, [...queues, 'runner.honest-runner'], 'honest-runner');
    expect(task).not.toBeNull();
    await honest.workflowService.respondActivityTaskCompleted({ namespace: stack.namespace, taskToken: task!.taskToken, identity: 'honest-runner', result: { payloads: [resultPayload('honest-runner', 'the real output')] } });
    const done = await waitForJob(stack, job.json.id, (j) => j.status !== 'queued' && j.status !== 'running', 30_000);
    expect(done).toMatchObject({ status: 'succeeded', output: 'the real output', worker_id: 'honest-runner' });
    const history = await stack.client.workflow.getHandle(workflowIdForJob(job.json.id)).fetchHistory();
    expect(history.events?.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
  } finally {
    await Promise.all([direct.close(), honest.close()]);
  }
}, 90_000);
