/**
 * Plain (non-streamed) held responses behind a real balancer whose idle
 * timeout (1 s) is shorter than the holds: HAProxy from devstack/load-balancer.ts
 * in front of the gateway. Nothing is sent while a job is queued, so:
 * - our job API holds a `?wait=` at most TRD_MAX_WAIT_SECONDS and answers the
 *   job's current state with a re-poll hint (Retry-After);
 * - a plain OpenAI completion must answer one JSON body, so the balancer's
 *   timeout for the gateways is derived from the gateway's settings
 *   (longestSilenceMs): it outlasts the hold, and the gateway answers.
 * A control balancer without the derived timeout shows what that prevents:
 * it cuts the completion, and the hang-up cancels the customer's job.
 * No runner: every job here stays queued until its deadline.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoadBalancer, type LoadBalancer } from '../../devstack/load-balancer.js';
import { gatewaySettings, longestSilenceMs } from '../../gateway/settings.js';
import { readBody } from '../support/http.js';
import { useStack, waitForJob } from '../support/stack.js';

const MAX_WAIT_S = 2;
const DEADLINE_MS = 6000;
const LB_IDLE_MS = 1000;
const stack = useStack({
  jobLimits: { deadlineMs: DEADLINE_MS },
  settings: { maxWaitSeconds: MAX_WAIT_S, http: { ...gatewaySettings({}).http, streamKeepAliveMs: 500, resultGraceMs: 1000 } },
});

let lb: LoadBalancer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trd-held-'));
  const backends = [{ name: 'gateway-1', address: stack.baseUrl.replace('http://', '') }];
  lb = await startLoadBalancer({
    dir,
    settings: { idleTimeoutMs: LB_IDLE_MS, holdMarginMs: 500, checkIntervalMs: 500 },
    services: [
      { name: 'gateway', kind: 'http', healthPath: '/healthz', holdMs: longestSilenceMs(stack.settings), backends },
      { name: 'naive', kind: 'http', healthPath: '/healthz', backends },
    ],
  });
}, 30_000);

afterAll(async () => {
  await lb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function through(service: 'gateway' | 'naive', method: string, path: string, body?: unknown) {
  const started = Date.now();
  const res = await fetch(`http://${lb.addresses[service]}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { ...(await readBody(res)), ms: Date.now() - started };
}

const job = { model: 'trd-tiny', prompt: 'nobody is serving', max_tokens: 4 };
const chat = { model: 'trd-tiny', messages: [{ role: 'user', content: 'nobody is serving' }], max_tokens: 4 };

describe('held responses through a balancer with a 1 s idle timeout', () => {
  test("the balancer's gateway timeouts come from the gateway's settings", () => {
    const held = longestSilenceMs(stack.settings) + 500;
    expect(held).toBe(DEADLINE_MS + 1000 + 500);
    const config = readFileSync(lb.configFile, 'utf8');
    expect(config).toMatch(new RegExp(`frontend gateway\\n(  .*\\n)*  timeout client ${held}ms`));
    expect(config).toMatch(new RegExp(`backend gateway_replicas\\n(  .*\\n)*  timeout server ${held}ms`));
    expect(config).not.toMatch(/frontend naive\n(  .*\n)*  timeout client/);
  });

  test('a ?wait= longer than TRD_MAX_WAIT_SECONDS answers the queued job after that, with a re-poll hint; the job goes on', async () => {
    const posted = await through('gateway', 'POST', '/v1/jobs?wait=60', job);
    expect({ status: posted.status, state: posted.json?.status, retry: posted.headers.get('retry-after') }).toEqual({ status: 202, state: 'queued', retry: '1' });
    expect(posted.headers.get('location')).toBe(`/v1/jobs/${posted.json.id}`);
    const got = await through('gateway', 'GET', `/v1/jobs/${posted.json.id}?wait=60`);
    expect({ status: got.status, state: got.json?.status, retry: got.headers.get('retry-after') }).toEqual({ status: 200, state: 'queued', retry: '1' });
    // Each was held silent for the whole wait, past the balancer's idle timeout, and answered by the gateway.
    for (const held of [posted, got]) expect(held.ms).toBeGreaterThanOrEqual(MAX_WAIT_S * 1000 - 100);
    const done = await waitForJob(stack, posted.json.id, (j) => j.status !== 'queued', DEADLINE_MS + 30_000);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/deadline/);
  }, 60_000);

  test("a plain completion held until its job's deadline gets the gateway's answer, and the job is not cancelled", async () => {
    const res = await through('gateway', 'POST', '/v1/chat/completions', chat);
    expect({ status: res.status, code: res.json?.error?.code }).toEqual({ status: 502, code: 'job_failed' });
    expect(res.json.error.message).toMatch(/deadline/);
    expect(res.ms).toBeGreaterThan(LB_IDLE_MS);
    const row = await stack.db.job.findUniqueOrThrow({ where: { id: res.headers.get('x-trd-job-id')! } });
    expect(row.status).toBe('failed');
  }, 60_000);

  test('control: a balancer whose timeout is below the hold cuts the completion, and the hang-up cancels the job', async () => {
    const before = new Set((await stack.db.job.findMany({ select: { id: true } })).map((j) => j.id));
    const res = await through('naive', 'POST', '/v1/chat/completions', chat);
    expect(res.status).toBe(504);
    expect(res.json).toBeUndefined();
    expect(res.ms).toBeLessThan(DEADLINE_MS);
    const cut = (await stack.db.job.findMany({ select: { id: true } })).find((j) => !before.has(j.id))!;
    const done = await waitForJob(stack, cut.id, (j) => j.status !== 'queued', 30_000);
    expect(done.status).toBe('cancelled');
  }, 60_000);
});
