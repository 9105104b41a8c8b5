/**
 * The runner endpoint (runner-proxy/) with the real Temporal SDK on both
 * sides: an entitled runner gets its work done through it; everything else a
 * runner token could try is refused, and a revoked or shadowbanned runner is
 * cut off mid-poll.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Connection, Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { createRunnerToken } from '../../gateway/runners.js';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let token: string;
const RUNNER = 'endpoint-runner';
const WS = '/temporal.api.workflowservice.v1.WorkflowService/';

beforeAll(async () => {
  stack = await startStack({ runnerEndpoint: { refreshMs: 200 } });
  token = await createRunnerToken(stack.db, RUNNER, 'probation');
  // What its first heartbeat would say: it serves the tiny model.
  await stack.db.runner.update({ where: { id: RUNNER }, data: { loadedModels: ['trd-tiny'] } });
});

afterAll(async () => {
  await stack?.stop();
});

const tls = () => ({ serverRootCACertificate: readFileSync(stack.runnerEndpoint.tls.caFile), serverNameOverride: stack.runnerEndpoint.tls.serverName });

async function runnerConnection(t = token): Promise<Connection> {
  return Connection.connect({ address: stack.runnerEndpoint.address, tls: tls(), metadata: { authorization: `Bearer ${t}` } });
}

/** The gRPC status code of a failed call, wherever the SDK put it. */
function grpcCode(err: unknown): number | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++, e = e.cause as typeof e) if (typeof e.code === 'number') return e.code;
  return undefined;
}

async function expectCode(call: Promise<unknown>, code: number): Promise<string> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).not.toBeNull();
  expect(grpcCode(err)).toBe(code);
  return (err as Error).message;
}

const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

describe('an entitled runner', () => {
  test('completes a job through the endpoint (TLS, its token), and the job is done', async () => {
    await stack.startRunner({ workerId: 'endpoint-honest' });
    const created = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'Through the endpoint', max_tokens: 8 });
    expect(created.json.status).toBe('succeeded');
    expect(created.json.worker_id).toBe('endpoint-honest');
    expect(stack.runnerEndpoint.proxy!.stats.forwarded).toBeGreaterThan(0);
  });

  test('may poll its own queue and its entitled model queue (an empty long poll comes back OK)', async () => {
    const conn = await runnerConnection();
    try {
      for (const queue of [`runner.${RUNNER}`, 'model.trd-tiny.warm.probation']) {
        // A short deadline: Temporal answers an empty long poll just before it.
        const answer = await conn.withDeadline(Date.now() + 3000, () =>
          conn.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: queue }, identity: RUNNER }),
        );
        expect(answer.taskToken?.length ?? 0).toBe(0);
      }
    } finally {
      await conn.close();
    }
  });
});

describe('the same token is refused', () => {
  let conn: Connection;
  beforeAll(async () => {
    conn = await runnerConnection();
  });
  afterAll(async () => {
    await conn?.close();
  });
  const poll = (queue: string) =>
    conn.withDeadline(Date.now() + 5000, () => conn.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: queue }, identity: RUNNER }));

  test("polling another model's queue", async () => {
    expect(await expectCode(poll('model.other-model.warm.probation'), PERMISSION_DENIED)).toMatch(/does not serve other-model/);
  });

  test("polling a higher tier's queue", async () => {
    expect(await expectCode(poll('model.trd-tiny.warm.trusted'), PERMISSION_DENIED)).toMatch(/is probation; the trusted queues/);
  });

  test("polling another runner's own queue", async () => {
    await expectCode(poll('runner.endpoint-honest'), PERMISSION_DENIED);
  });

  test('polling a workflow task queue', async () => {
    await expectCode(
      conn.withDeadline(Date.now() + 5000, () => conn.workflowService.pollWorkflowTaskQueue({ namespace: stack.namespace, taskQueue: { name: 'orchestrator' }, identity: RUNNER })),
      PERMISSION_DENIED,
    );
  });

  test('starting, signalling, terminating or describing a workflow, and reading a history', async () => {
    const client = new Client({ connection: conn, namespace: stack.namespace });
    await expectCode(client.workflow.start('inferenceJob', { taskQueue: 'orchestrator', workflowId: `evil-${randomBytes(4).toString('hex')}`, args: [{}] }), PERMISSION_DENIED);
    const job = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'Someone else’s secret', max_tokens: 4 });
    const handle = client.workflow.getHandle(job.json.id);
    await expectCode(handle.fetchHistory(), PERMISSION_DENIED);
    await expectCode(handle.describe(), PERMISSION_DENIED);
    await expectCode(handle.signal('anything'), PERMISSION_DENIED);
    await expectCode(handle.terminate('mine now'), PERMISSION_DENIED);
    await expectCode(conn.workflowService.listWorkflowExecutions({ namespace: stack.namespace }), PERMISSION_DENIED);
  });

  test('completing a task that was not handed to it', async () => {
    await expectCode(
      conn.workflowService.respondActivityTaskCompleted({ namespace: stack.namespace, taskToken: randomBytes(64), identity: RUNNER }),
      PERMISSION_DENIED,
    );
  });

  test('a real SDK worker on a queue it is not entitled to is refused each poll and never gets a task', async () => {
    const native = await NativeConnection.connect({ address: stack.runnerEndpoint.address, tls: tls(), metadata: { authorization: `Bearer ${token}` } });
    const ran: string[] = [];
    try {
      const worker = await Worker.create({
        connection: native,
        namespace: stack.namespace,
        taskQueue: 'model.trd-tiny.cold.trusted',
        activities: { runInference: async (t: { jobId: string }) => void ran.push(t.jobId) },
      });
      const deniedBefore = stack.runnerEndpoint.proxy!.stats.denied;
      const running = worker.run();
      // A trusted-only job waits on exactly that queue.
      const job = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'For trusted runners only', max_tokens: 4, min_tier: 'trusted' });
      await new Promise((r) => setTimeout(r, 3000));
      worker.shutdown();
      await running;
      const denied = stack.runnerEndpoint.proxy!.stats.denied - deniedBefore;
      console.log(`runner endpoint: ${denied} poll(s) of a queue the token is not entitled to refused in 3 s`);
      expect(denied).toBeGreaterThan(0);
      expect(ran).toEqual([]);
      await api(stack, 'POST', `/v1/jobs/${job.json.id}/cancel`);
    } finally {
      await native.close();
    }
  }, 60_000);
});

describe('a token that is not (or no longer) good', () => {
  test('an unknown token is refused before anything else', async () => {
    const conn = await Connection.connect({ address: stack.runnerEndpoint.address, tls: tls(), metadata: { authorization: 'Bearer trdr_not-a-token' } }).catch((e) => e);
    if (conn instanceof Connection) {
      await expectCode(conn.workflowService.getSystemInfo({}), UNAUTHENTICATED);
      await conn.close();
    } else {
      expect(grpcCode(conn)).toBe(UNAUTHENTICATED);
    }
  });

  test.each([
    [
      'revoked',
      async (id: string) => {
        // The owner revokes it through the API.
        const ownerId = (await api(stack, 'GET', '/v1/org')).json.id;
        await stack.db.runner.update({ where: { id }, data: { ownerId } });
        expect((await api(stack, 'DELETE', `/v1/runners/${id}/token`)).json).toMatchObject({ runner_id: id, revoked: true });
        expect((await api(stack, 'DELETE', '/v1/runners/someone-elses/token')).status).toBe(404);
      },
      UNAUTHENTICATED,
    ],
    ['shadowbanned', async (id: string) => stack.db.runner.update({ where: { id }, data: { shadowbannedReason: 'failed audits' } }), PERMISSION_DENIED],
  ])('a %s runner is cut off mid-poll within seconds, and refused after', async (_what, cut, code) => {
    const id = `endpoint-cut-${randomBytes(3).toString('hex')}`;
    const t = await createRunnerToken(stack.db, id, 'probation');
    const conn = await runnerConnection(t);
    try {
      const polling = conn.withDeadline(Date.now() + 50_000, () =>
        conn.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: `runner.${id}` }, identity: id }),
      );
      // The long poll is in flight (Temporal holds it up to a minute); now the platform cuts the runner off.
      await new Promise((r) => setTimeout(r, 500));
      const cutAt = Date.now();
      await cut(id);
      await expectCode(polling, code);
      const tookMs = Date.now() - cutAt;
      console.log(`runner endpoint: a ${_what} runner's poll in flight was cut ${tookMs} ms after the change (re-check every 200 ms)`);
      expect(tookMs).toBeLessThan(3000);
      await expectCode(
        conn.withDeadline(Date.now() + 5000, () => conn.workflowService.pollActivityTaskQueue({ namespace: stack.namespace, taskQueue: { name: `runner.${id}` }, identity: id })),
        code,
      );
    } finally {
      await conn.close();
    }
  });
});

describe('hostile bytes', () => {
  /** One raw HTTP/2 gRPC call: what a client that is not the SDK can send. */
  function rawCall(method: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: string | undefined; message: string | undefined }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`https://${stack.runnerEndpoint.address}`, { ca: readFileSync(stack.runnerEndpoint.tls.caFile), servername: 'localhost' });
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': WS + method, 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${token}`, ...headers });
      let status: string | undefined;
      let message: string | undefined;
      const take = (h: Record<string, unknown>) => {
        if (h['grpc-status'] !== undefined) {
          status = String(h['grpc-status']);
          message = decodeURIComponent(String(h['grpc-message'] ?? ''));
        }
      };
      req.on('response', take);
      req.on('trailers', take);
      req.on('data', () => {});
      req.on('close', () => {
        session.close();
        resolve({ status, message });
      });
      req.on('error', () => {});
      req.end(body);
    });
  }
  const framed = (msg: Buffer, flag = 0) => {
    const b = Buffer.alloc(5 + msg.length);
    b[0] = flag;
    b.writeUInt32BE(msg.length, 1);
    msg.copy(b, 5);
    return b;
  };

  test('a malformed, oversized or bomb message is refused, and the endpoint serves the next call', async () => {
    expect(await rawCall('PollActivityTaskQueue', Buffer.from([1, 2, 3]))).toMatchObject({ status: '3' });
    expect(await rawCall('PollActivityTaskQueue', framed(randomBytes(200)))).toMatchObject({ status: '3' });
    expect((await rawCall('PollActivityTaskQueue', framed(Buffer.alloc(0)).subarray(0, 5).fill(0xff, 1))).status).toMatch(/^(3|8)$/);
    expect(await rawCall('PollActivityTaskQueue', framed(Buffer.alloc(5 * 1024 * 1024)))).toMatchObject({ status: '8' });
    // 4 KiB of gzip that opens to 64 MiB.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(await rawCall('PollActivityTaskQueue', framed(bomb, 1), { 'grpc-encoding': 'gzip' })).toMatchObject({ status: '8' });
    expect(await rawCall('StartWorkflowExecution', framed(Buffer.alloc(0)))).toMatchObject({ status: '7' });
    expect(await rawCall('PollActivityTaskQueue', framed(Buffer.alloc(0)), { authorization: 'Basic x' })).toMatchObject({ status: '16' });
    // Still serving.
    const conn = await runnerConnection();
    try {
      const info = await conn.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
    } finally {
      await conn.close();
    }
  });
});
