/**
 * Customers' prompts and outputs stay private: Temporal's history holds them
 * sealed (read raw with the Temporal CLI, no payload opens to the prompt or
 * the output), and no process's log carries a prompt, an output, an API key
 * or a runner token.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { workflowIdForJob } from '@trd/protocol';
import { createRunnerToken } from '../../gateway/runners.js';
import { findTemporalCli } from '../../devstack/temporal.js';
import { isSealed, openSealed, payloadsOf, rawHistory } from '../support/raw-histories.js';
import { api, startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
const logs: string[] = [];
let runnerToken: string;
const canary = `PROMPT-CANARY-${randomBytes(6).toString('hex')}`;
let job: any;
let chat: any;

beforeAll(async () => {
  // Every part as its own process, as in production: their whole output is what is checked.
  stack = await startStack({ orchestrator: 'process', gateway: 'process', echo: (line) => logs.push(line) });
  runnerToken = await createRunnerToken(stack.db, 'private-runner');
  await stack.startRunner({ workerId: 'private-runner', token: runnerToken });
  job = (await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `Tell nobody: ${canary}`, max_tokens: 24 })).json;
  chat = (
    await api(stack, 'POST', '/v1/chat/completions', { model: 'trd-tiny', messages: [{ role: 'user', content: `Also secret: ${canary}` }], max_tokens: 24 })
  ).json;
});

afterAll(async () => {
  await stack?.stop();
});

const LOCAL_ACTIVITY_META = ['seq', 'attempt', 'activity_id', 'activity_type', 'complete_time', 'backoff', 'original_schedule_time'];

function isSdkBookkeeping(text: string): boolean {
  const value = JSON.parse(text);
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string' && /^[a-z0-9-]+$/.test(v));
  const keys = Object.keys(value);
  return keys.every((k) => ['id', 'deprecated'].includes(k)) || keys.every((k) => LOCAL_ACTIVITY_META.includes(k));
}

describe("Temporal's history, read raw with the Temporal CLI", () => {
  test('holds no prompt or output text: every payload is sealed, and only the platform keys open them', () => {
    expect(job.status).toBe('succeeded');
    expect(job.output.length).toBeGreaterThan(10);
    const text = rawHistory(stack, workflowIdForJob(job.id));
    const payloads = payloadsOf(JSON.parse(text));
    expect(payloads.length).toBeGreaterThan(2);
    const sealed = payloads.filter(isSealed);
    expect(sealed.length).toBeGreaterThan(2);
    // The rest is the SDK's own bookkeeping: patch markers and local-activity marker metadata.
    for (const p of payloads.filter((x) => !sealed.includes(x))) expect(isSdkBookkeeping(Buffer.from(p.data ?? '', 'base64').toString())).toBe(true);
    // Not in the JSON, and not inside any payload's bytes.
    const opened = payloads.map((p) => Buffer.from(p.data ?? '', 'base64').toString('latin1')).join('\n');
    for (const secret of [canary, job.output]) {
      expect(text).not.toContain(secret);
      expect(opened).not.toContain(secret);
    }
    // The check can fail: the platform's keys open the sealed payloads to the prompt and the output (the SDK's
    // unsealed bookkeeping is refused by decryptPayload now, and holds neither).
    const plain = sealed.map((p) => openSealed(stack, p)).join('\n');
    expect(plain).toContain(canary);
    expect(plain).toContain(JSON.stringify(job.output).slice(1, -1));
  });

  test("a chat completion's history holds no message text either", () => {
    expect(chat.choices?.[0]?.message?.content?.length).toBeGreaterThan(0);
    const jobs = JSON.parse(execFileSync(findTemporalCli()!, ['workflow', 'list', '--namespace', stack.namespace, '--address', stack.temporalAddress, '--output', 'json'], { encoding: 'utf8' }));
    expect(jobs.length).toBeGreaterThan(1);
    for (const w of jobs) {
      const text = rawHistory(stack, w.execution.workflowId);
      const opened = payloadsOf(JSON.parse(text))
        .map((p) => Buffer.from(p.data ?? '', 'base64').toString('latin1'))
        .join('\n');
      expect(text + opened).not.toContain(canary);
      expect(text + opened).not.toContain(chat.choices[0].message.content);
    }
  });
});

describe('logs', () => {
  test("no process's output (gateway, orchestrator, runner, runner endpoint) carries a prompt, an output, an API key or a token", () => {
    expect(logs.length).toBeGreaterThan(5);
    const all = logs.join('\n');
    expect(all).toMatch(/trd-worker: serving/);
    for (const secret of [canary, job.output, chat.choices[0].message.content, stack.apiKey, runnerToken]) expect(all).not.toContain(secret);
  });
});
