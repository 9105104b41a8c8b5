/**
 * Two orchestrator processes sign side by side while the receipt-signing key
 * rotates in the middle of a stream of jobs (a rolling restart that gives each
 * the new key next to the old one): the new key is published before it signs,
 * both switch at the same instant, every receipt verifies against the
 * published keys, and the runner refuses no dispatch.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { keyring, parseReceipt, signatureProblems } from '@trd/protocol';
import { api, startStack, type TestStack } from '../support/stack.js';

const PUBLISH_MS = 20_000;
let stack: TestStack;
const runnerLines: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    replicas: { orchestrator: 2 },
    signingKeyPublishMs: PUBLISH_MS,
    processEnv: { TRD_SIGNING_KEY_REFRESH_MS: '1000' },
    echo: (line) => line.startsWith('[rotation-runner]') && runnerLines.push(line),
  });
  await stack.startRunner({ workerId: 'rotation-runner', env: { TRD_RUNNER_KEYS_REFRESH_MS: '2000' } });
});

afterAll(async () => {
  await stack?.stop();
});

test('a rolling restart with a new key: every receipt verifies, no dispatch is refused', async () => {
  const oldKid = stack.signingKey.kid;
  const ids: string[] = [];
  let loading = true;
  const load = (async () => {
    while (loading) {
      const res = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `rotation ${ids.length}`, max_tokens: 4 });
      expect(res.status).toBe(200);
      ids.push(res.json.id);
    }
  })();

  const newKey = await stack.addSigningKey();
  await stack.replica('orchestrator', 0).stop();
  await stack.replica('orchestrator', 0).start();
  const published = (await api(stack, 'GET', '/keys', undefined, null)).json.keys;
  const next = published.find((k: { kid: string }) => k.kid === newKey.kid);
  // Published, not yet signing; the old key's window ends where the new one's begins.
  expect(Date.parse(next.valid_from)).toBeGreaterThan(Date.now());
  expect(published.find((k: { kid: string }) => k.kid === oldKid).valid_until).toBe(next.valid_from);
  await stack.replica('orchestrator', 1).stop();
  await stack.replica('orchestrator', 1).start();
  // Jobs go on through the activation instant and a little after.
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(next.valid_from) - Date.now()) + 3000));
  loading = false;
  await load;

  const jobs = await stack.db.job.findMany({ where: { id: { in: ids } }, include: { receipt: true } });
  expect(jobs.map((j) => j.status)).toEqual(ids.map(() => 'succeeded'));
  const ring = keyring((await api(stack, 'GET', '/keys', undefined, null)).json.keys);
  const problems: string[] = [];
  for (const j of jobs) {
    const parsed = parseReceipt(j.receipt!.document);
    if (!parsed.ok) problems.push(`${j.id}: ${parsed.reason}`);
    else problems.push(...(await signatureProblems(parsed, ring)).map((p) => `${j.id}: ${p}`));
  }
  expect(problems).toEqual([]);
  const kids = new Set(jobs.map((j) => j.receipt!.kid));
  console.log(`key rotation across 2 orchestrators: ${jobs.length} jobs, receipts by ${[...kids].join(' and ')}, all verify`);
  expect(kids).toEqual(new Set([oldKid, newKey.kid]));
  expect(runnerLines.filter((l) => /refuses this/.test(l))).toEqual([]);
}, 240_000);
