/**
 * Replay: the current workflow code must replay the histories committed in
 * test/fixtures/histories (recorded from real runs), and a reordered workflow
 * must not. To record new fixtures from this run:
 *   TRD_RECORD_HISTORIES=1 npm test -- test/workflows/replay.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workflowIdForJob } from '@trd/protocol';
import { api, serviceEndpoints, startStack, type TestStack } from '../support/stack.js';

const HISTORIES = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const REORDERED = fileURLToPath(new URL('../fixtures/workflows/reordered-inference-job.ts', import.meta.url));
const bundle = () => ({ workflowBundle: { codePath: serviceEndpoints().workflowBundlePath } });

let stack: TestStack;
const live: Record<string, unknown> = {};

async function historyOf(jobId: string) {
  return stack.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
}

beforeAll(async () => {
  stack = await startStack({ jobLimits: { deadlineMs: 1500 } });
  // No runner yet: this job reaches its deadline and fails.
  const failed = await api(stack, 'POST', '/v1/jobs?wait=20', { model: 'trd-tiny', prompt: 'nobody home', max_tokens: 4 });
  expect(failed.json.status).toBe('failed');
  expect(failed.json.error).toBe('no runner took the job before its deadline');
  live['inference-job-failed'] = await historyOf(failed.json.id);

  await stack.startRunner();
  const ok = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'replay me', max_tokens: 6 });
  expect(ok.json.status).toBe('succeeded');
  live['inference-job-succeeded'] = await historyOf(ok.json.id);

  if (process.env.TRD_RECORD_HISTORIES) {
    for (const [name, history] of Object.entries(live)) writeFileSync(`${HISTORIES}${name}.json`, `${historyToJSON(history as never)}\n`);
  }
});

afterAll(async () => {
  await stack?.stop();
});

describe('replay', () => {
  test("this run's histories replay against the current code", async () => {
    for (const history of Object.values(live)) await Worker.runReplayHistory(bundle(), history as never);
  });

  const committed = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));

  test('there are committed histories of both outcomes', () => {
    expect(committed.sort()).toEqual(['inference-job-failed.json', 'inference-job-succeeded.json']);
  });

  test.each(committed)('committed history %s replays against the current code', async (file) => {
    const history = JSON.parse(readFileSync(`${HISTORIES}${file}`, 'utf8'));
    await Worker.runReplayHistory(bundle(), history);
  });

  test('a reordered workflow fails replay with a determinism violation', async () => {
    const history = JSON.parse(readFileSync(`${HISTORIES}inference-job-succeeded.json`, 'utf8'));
    await expect(Worker.runReplayHistory({ workflowsPath: REORDERED }, history)).rejects.toThrow(DeterminismViolationError);
  });
});
