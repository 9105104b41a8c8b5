/**
 * The Docker image's way to run the platform: `npm run build`'s orchestrator (dist/orchestrator.js) on
 * plain node, loading the workflow bundle built with it (TRD_WORKFLOW_BUNDLE), serves a job end to end.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlatform } from '../../scripts/build.js';
import { api, startStack, type TestStack } from '../support/stack.js';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
let stack: TestStack;

beforeAll(async () => {
  // Built here, so the test never runs an old build; into dist/, where the image has it.
  await buildPlatform();
  stack = await startStack({
    orchestrator: 'process',
    orchestratorScript: join(DIST, 'orchestrator.js'),
    processEnv: { TRD_WORKFLOW_BUNDLE: join(DIST, 'workflow-bundle.js') },
  });
  await stack.startRunner({ workerId: 'built' });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

test('the compiled orchestrator with the prebuilt workflow bundle runs a job to a signed receipt', async () => {
  const created = await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'from the build', max_tokens: 8 });
  expect(created.status).toBe(202);
  const done = await api(stack, 'GET', `/v1/jobs/${created.json.id}?wait=60`);
  expect(done.json).toMatchObject({ status: 'succeeded', worker_id: 'built' });
  expect(done.json.usage.completion_tokens).toBe(8);
  expect(await stack.db.receipt.count()).toBe(1);
});
