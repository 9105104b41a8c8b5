/**
 * The agent manifest schema (protocol/agent.ts): each bad manifest gets an
 * error naming its field; the hash is over canonical JSON (defaults filled
 * in); receipts may name an agent and its manifest hash, both or neither,
 * and receipts without them are what they were.
 */
import { expect, test } from '@jest/globals';
import * as ed from '@noble/ed25519';
import { createHash } from 'node:crypto';
import { canonicalize, checkManifest, envelopeProblem, manifestDiff, manifestSha256, signReceipt, verifyReceipt, type AgentManifest } from '@trd/protocol';

const ACCOUNT = `cus_${'a'.repeat(32)}`;
const good = (): Record<string, any> => ({
  slug: 'haiku-bot',
  version: '1.0.0',
  name: 'Haiku bot',
  description: 'Answers in haiku.',
  author: 'A. Author',
  model: 'trd-tiny',
  system_prompt: 'You answer in haiku.',
  parameters: { temperature: 0.5, max_tokens: 12 },
  payout_account: ACCOUNT,
});

test('a good manifest passes, with stop defaulting to none', () => {
  const check = checkManifest(good());
  expect(check).toEqual({ ok: true, manifest: { ...good(), parameters: { temperature: 0.5, max_tokens: 12, stop: [] } } });
});

test.each<[string, (m: Record<string, any>) => unknown, RegExp]>([
  ['not an object', () => [1, 2], /^manifest: must be a JSON object$/],
  ['a bad slug', (m) => ({ ...m, slug: 'Haiku Bot!' }), /^manifest\.slug: must be 2-48 of a-z 0-9/],
  ['no version', ({ version, ...m }) => m, /^manifest\.version: /],
  ['a version that is not x.y.z', (m) => ({ ...m, version: 'v1' }), /^manifest\.version: must be a version such as 1\.0\.0$/],
  ['an empty name', (m) => ({ ...m, name: '  ' }), /^manifest\.name: must not be empty$/],
  ['a model not in the catalog', (m) => ({ ...m, model: 'gpt-17' }), /^manifest\.model: "gpt-17" is not a model the catalog serves/],
  ['temperature above 2', (m) => ({ ...m, parameters: { ...m.parameters, temperature: 3 } }), /^manifest\.parameters\.temperature: must be at most 2$/],
  ['max_tokens above the model’s limit', (m) => ({ ...m, parameters: { ...m.parameters, max_tokens: 100_000 } }), /^manifest\.parameters\.max_tokens: must be at most \d+ for trd-tiny$/],
  ['a fractional max_tokens', (m) => ({ ...m, parameters: { ...m.parameters, max_tokens: 1.5 } }), /^manifest\.parameters\.max_tokens: must be an integer$/],
  ['five stop strings', (m) => ({ ...m, parameters: { ...m.parameters, stop: ['a', 'b', 'c', 'd', 'e'] } }), /^manifest\.parameters\.stop: at most 4 stop strings$/],
  ['an input schema that is not an object schema', (m) => ({ ...m, input_schema: { type: 'string' } }), /^manifest\.input_schema: must be a JSON Schema with "type": "object"$/],
  ['a payout account that is not an account id', (m) => ({ ...m, payout_account: 'me' }), /^manifest\.payout_account: must be an account id/],
  ['an unknown field', (m) => ({ ...m, price: 5 }), /^manifest: .*price/],
  ['an empty system prompt', (m) => ({ ...m, system_prompt: '' }), /^manifest\.system_prompt: must not be empty$/],
])('%s is refused by name', (_name, change, message) => {
  const check = checkManifest(change(good()));
  expect(check.ok).toBe(false);
  if (!check.ok) expect(check.errors[0]).toMatch(message);
});

test('every problem is listed at once', () => {
  const check = checkManifest({ ...good(), slug: '', version: 'x', parameters: { temperature: -1, max_tokens: 0 } });
  expect(check.ok).toBe(false);
  if (!check.ok) expect(check.errors.map((e) => e.split(':')[0]).sort()).toEqual(['manifest.parameters.max_tokens', 'manifest.parameters.temperature', 'manifest.slug', 'manifest.version']);
});

test('the manifest hash is SHA-256 of its canonical JSON, the same for any key order', async () => {
  const m = (checkManifest(good()) as { manifest: AgentManifest }).manifest;
  const reordered = Object.fromEntries(Object.entries(m).reverse()) as AgentManifest;
  expect(await manifestSha256(reordered)).toBe(await manifestSha256(m));
  expect(await manifestSha256(m)).toBe(createHash('sha256').update(canonicalize(m)).digest('hex'));
});

test('the diff against the published version lists changed fields only', () => {
  const a = (checkManifest(good()) as { manifest: AgentManifest }).manifest;
  const b = { ...a, version: '1.1.0', parameters: { ...a.parameters, temperature: 0 } };
  expect(manifestDiff(a, b)).toEqual([
    { field: 'version', published: '1.0.0', submitted: '1.1.0' },
    { field: 'parameters.temperature', published: 0.5, submitted: 0 },
  ]);
  expect(manifestDiff(null, a).map((d) => d.field)).toContain('system_prompt');
});

test('a receipt names an agent and its manifest hash, both or neither; one without stays valid', async () => {
  const secret = ed.utils.randomSecretKey();
  const pub = await ed.getPublicKeyAsync(secret);
  const h = 'a'.repeat(64);
  const fields = {
    job_id: 'job_' + '0'.repeat(32), worker_id: 'w1', model: 'trd-tiny', model_sha256: h, prompt_sha256: h, output_sha256: h,
    prompt_tokens: 3, completion_tokens: 4, started_at: '2026-12-02T00:00:00.000Z', finished_at: '2026-12-02T00:00:01.000Z', duration_ms: 1000, issued_at: '2026-12-02T00:00:01.000Z',
  };
  const plain = await signReceipt(fields, secret);
  expect(Object.keys(plain.envelope)).not.toContain('agent');
  expect(await verifyReceipt(plain, pub)).toMatchObject({ ok: true });
  const withAgent = await signReceipt({ ...fields, agent: 'haiku-bot', agent_manifest_sha256: h }, secret);
  expect(await verifyReceipt(withAgent, pub)).toMatchObject({ ok: true });
  const tampered = { ...withAgent, envelope: { ...withAgent.envelope, agent: 'other-bot' } };
  expect(await verifyReceipt(tampered, pub)).toEqual({ ok: false, reason: 'signature does not match the receipt contents' });
  expect(envelopeProblem({ ...plain.envelope, agent: 'haiku-bot' })).toBe('"agent" and "agent_manifest_sha256" come together');
  expect(envelopeProblem({ ...plain.envelope, agent: 'Bad Slug', agent_manifest_sha256: h })).toBe('"agent" must be an agent slug');
});
