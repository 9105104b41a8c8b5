/**
 * Organizations: keys and members managed through the API; a key's rate
 * limit and the monthly spending cap answer 429 / 402 with Retry-After and
 * create no job; concurrent requests cannot overspend the cap, because a job
 * holds a reservation from acceptance until its charge replaces it.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { reservationMicrocredits } from '../../economy/billing.js';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner();
});

afterAll(async () => {
  await stack?.stop();
});

test('keys: created with a rate limit, listed by prefix only, revoked (never the last one)', async () => {
  const key = await stack.newApiKey('keys org');
  const created = await api(stack, 'POST', '/v1/org/keys', { name: 'ci', rate_limit_per_minute: 10 }, key);
  expect(created.status).toBe(201);
  expect(created.json).toMatchObject({ object: 'api_key', name: 'ci', rate_limit_per_minute: 10, revoked_at: null });
  expect(created.json.key).toMatch(/^trd_sk_/);
  const listed = (await api(stack, 'GET', '/v1/org/keys', undefined, key)).json.data;
  expect(listed).toHaveLength(2);
  expect(JSON.stringify(listed)).not.toContain(created.json.key);
  expect(listed.map((k: any) => k.prefix)).toContain(created.json.key.slice(0, 12));

  expect((await api(stack, 'GET', '/v1/org', undefined, created.json.key)).status).toBe(200);
  expect((await api(stack, 'DELETE', `/v1/org/keys/${created.json.id}`, undefined, key)).json.revoked_at).not.toBeNull();
  expect((await api(stack, 'GET', '/v1/org', undefined, created.json.key)).status).toBe(401);
  const own = listed.find((k: any) => k.id !== created.json.id);
  const last = await api(stack, 'DELETE', `/v1/org/keys/${own.id}`, undefined, key);
  expect(last.status).toBe(409);
  expect(last.json.error.code).toBe('last_key');
});

test('members: added, role changed, removed; the last owner stays; a bad email is refused', async () => {
  const key = await stack.newApiKey('members org');
  expect((await api(stack, 'POST', '/v1/org/members', { email: 'Ada@example.com', role: 'owner' }, key)).json).toMatchObject({ email: 'ada@example.com', role: 'owner' });
  await api(stack, 'POST', '/v1/org/members', { email: 'bob@example.com' }, key);
  expect((await api(stack, 'GET', '/v1/org/members', undefined, key)).json.data.map((m: any) => [m.email, m.role])).toEqual([
    ['ada@example.com', 'owner'],
    ['bob@example.com', 'member'],
  ]);
  expect((await api(stack, 'DELETE', '/v1/org/members/ada@example.com', undefined, key)).json.error.code).toBe('last_owner');
  expect((await api(stack, 'DELETE', '/v1/org/members/bob@example.com', undefined, key)).status).toBe(204);
  expect((await api(stack, 'POST', '/v1/org/members', { email: 'not-an-email' }, key)).status).toBe(400);
});

test('a rate-limited key gets 429 with Retry-After past its limit, and no job is created', async () => {
  const admin = await stack.newApiKey('rate org');
  const limited = (await api(stack, 'POST', '/v1/org/keys', { name: 'limited', rate_limit_per_minute: 3 }, admin)).json;
  const job = () => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'rate', max_tokens: 2 }, limited.key);
  for (let i = 0; i < 3; i++) expect((await job()).status).toBe(202);
  const refused = await job();
  expect(refused.status).toBe(429);
  expect(refused.json.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  const retryAfter = Number(refused.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(await stack.db.job.count({ where: { apiKeyId: limited.id } })).toBe(3);
  // Other keys of the organization are not limited by it.
  expect((await api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'rate', max_tokens: 2 }, admin)).status).toBe(202);
});

test('40 requests at once under a 1-credit cap: exactly the jobs whose reservations fit are accepted, the rest get 402', async () => {
  const key = await stack.newApiKey('capped org');
  expect((await api(stack, 'PATCH', '/v1/org', { monthly_cap_credits: 1 }, key)).json).toMatchObject({ monthly_cap_credits: 1, spent_this_month_microcredits: 0 });
  const each = reservationMicrocredits(50, 36, stack.settings.reservation);
  const fits = Math.floor(1_000_000 / each);
  expect(fits).toBeGreaterThan(1);
  expect(fits).toBeLessThan(40);
  // No trusted runner exists, so the accepted jobs stay queued and keep their reservations while the rest arrive.
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `cap ${i}`, max_tokens: 50, min_tier: 'trusted' }, key)),
  );
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 402);
  expect([accepted.length, refused.length]).toEqual([fits, 40 - fits]);
  expect(refused[0]!.json.error).toMatchObject({ type: 'insufficient_quota', code: 'spending_cap_reached' });
  expect(refused[0]!.json.error.message).toMatch(/monthly cap of 1 credits/);
  // Open jobs are what is in the way: they settle soon, so the wait is short.
  expect(refused[0]!.headers.get('retry-after')).toBe('5');
  const org = (await api(stack, 'GET', '/v1/org', undefined, key)).json;
  expect(org.reserved_microcredits).toBe(fits * each);
  expect(await stack.db.job.count({ where: { customer: { name: 'capped org' } } })).toBe(fits);

  // Cancelled before they ran, they charge nothing and hold nothing: the room is back.
  await Promise.all(accepted.map((a) => api(stack, 'POST', `/v1/jobs/${a.json.id}/cancel?wait=10`, undefined, key)));
  for (const a of accepted) await waitForJob(stack, a.json.id, (j) => j.status === 'cancelled', 30_000, key);
  expect((await api(stack, 'GET', '/v1/org', undefined, key)).json).toMatchObject({ reserved_microcredits: 0, spent_this_month_microcredits: 0 });
  const after = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'cap again', max_tokens: 50 }, key);
  expect(after.json.status).toBe('succeeded');
  // Settled to the real charge, far below what it held.
  const settled = (await api(stack, 'GET', '/v1/org', undefined, key)).json;
  expect(settled).toMatchObject({ reserved_microcredits: 0, spent_this_month_microcredits: after.json.billing.charge_microcredits });
  expect(after.json.billing.charge_microcredits).toBeLessThan(each);
});

test('the OpenAI routes answer a cap in OpenAI’s shape, too', async () => {
  const key = await stack.newApiKey('zero cap org');
  await api(stack, 'PATCH', '/v1/org', { monthly_cap_credits: 0 }, key);
  const res = await api(stack, 'POST', '/v1/chat/completions', { model: 'trd-tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }, key);
  expect(res.status).toBe(402);
  expect(res.json.error.code).toBe('spending_cap_reached');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(5);
});
