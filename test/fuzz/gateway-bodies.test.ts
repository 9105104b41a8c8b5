/**
 * Every gateway route under hostile input, driven by the route list
 * (gateway/openapi.ts API_ROUTES), so a new route is fuzzed without editing
 * this file. The real gateway, on a real PostgreSQL (and Temporal, which no
 * request here may reach): each input its route's zod schema refuses gets a
 * 4xx in OpenAI's error shape with a message, the gateway answers the next
 * request, and no table changed (every row hashed before and after).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { parse as parseQuery } from 'node:querystring';
import { z } from 'zod';
import { API_ROUTES, bodySchema, type ApiRoute } from '../../gateway/openapi.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { startStack, type TestStack } from '../support/stack.js';
import { deeplyNested, fuzz, hostileJson, hostileString } from './fuzz-settings.js';
import { tableFingerprints } from './gateway-state.js';
import { readBody } from '../support/http.js';

const MAX_PROMPT_BYTES = 1024;
/** express.json's bound for these settings (gateway/app.ts): a body past it must get a 413. */
const BODY_LIMIT = MAX_PROMPT_BYTES * 2 + 64 * 1024;

let stack: TestStack;
let runnerToken: string;
let ownedRunner: string;
let apiKeyId: string;
let sessionCookie: string;
/** The tables as the last request left them (each request is checked against the state just before it). */
let last: Record<string, string>;

beforeAll(async () => {
  // Limits far above what the fuzzing sends: here every request must reach its route's validation.
  stack = await startStack({ settings: { maxPromptBytes: MAX_PROMPT_BYTES, rateLimits: { windowMs: 60_000, perIp: 1e6, perCredential: 1e6 } } });
  runnerToken = await createRunnerToken(stack.db, 'fuzz-runner');
  const key = await stack.db.apiKey.findFirstOrThrow();
  apiKeyId = key.id;
  ownedRunner = 'fuzz-owned-runner';
  await createRunnerToken(stack.db, ownedRunner);
  await stack.db.runner.update({ where: { id: ownedRunner }, data: { ownerId: key.customerId } });
  const signIn = await fetch(`${stack.baseUrl}/v1/owner/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: stack.apiKey }) });
  expect(signIn.status).toBe(201);
  sessionCookie = signIn.headers.get('set-cookie')!.split(';')[0];
  last = await tableFingerprints(stack.db);
});

afterAll(async () => {
  await stack?.stop();
});

/** Routes with an input to fuzz (a body, a query or a path parameter); an endless event stream is not a request/answer route. */
const FUZZED = API_ROUTES.filter((r) => (r.body || r.query || r.path.includes(':')) && String(r.responses?.[200]) !== 'text/event-stream');

/** A value each path parameter may take that gets the request past its lookup, so the body or query is what is tested. */
function realParam(route: ApiRoute, name: string): string {
  if (route.path === '/v1/owner/runners/:id/settings') return ownedRunner;
  if (route.path.startsWith('/v1/org/keys/')) return apiKeyId;
  if (route.path.startsWith('/v1/jobs/')) return `job_${'0'.repeat(32)}`;
  return name === 'email' ? 'nobody@example.com' : 'x';
}

function authHeaders(route: ApiRoute): Record<string, string> {
  switch (route.auth) {
    case 'api_key':
      return { authorization: `Bearer ${stack.apiKey}` };
    case 'runner_token':
      return { authorization: `Bearer ${runnerToken}` };
    case 'stream_token':
      return { authorization: 'Bearer trd_st_not-a-stream' };
    case 'owner_session':
      return { cookie: sessionCookie };
    default:
      return {};
  }
}

interface HostileRequest {
  path: string;
  query: string;
  body?: { contentType: string | null; text: string };
  /** Whether the route must refuse it (its schema refuses the body or the query, or the body is not JSON at all). */
  mustRefuse: boolean;
  why: string;
}

/** encodeURIComponent throws on a lone surrogate (exactly the kind of input wanted here); UTF-8 would carry it as U+FFFD anyway. */
const enc = (s: string) => encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
const toQuery = (q: Record<string, string | string[]>) =>
  Object.entries(q)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => `${enc(k)}=${enc(one)}`))
    .join('&');

const keysOf = (schema: z.ZodType | undefined): string[] => (schema instanceof z.ZodObject ? Object.keys(schema.shape) : []);
const hostileKey = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString'));
/** An object with the schema's own field names (and a few others), each holding anything. */
const nearObject = (schema: z.ZodType | undefined) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...keysOf(schema), 'extra'), hostileKey), hostileJson, { maxKeys: 5 });

/** Bodies that are not JSON, or JSON the parser must bound. */
const RAW_BODIES: { text: string; why: string }[] = [
  { text: '{"model": ', why: 'truncated JSON' },
  { text: '{"a":1,}', why: 'trailing comma' },
  { text: "{'a':1}", why: 'single quotes' },
  { text: 'NaN', why: 'NaN' },
  { text: '"just a string"', why: 'a JSON string (not an object)' },
  { text: '12', why: 'a JSON number' },
  { text: '\u0000\u0001', why: 'control bytes' },
  { text: '\ufeff[1]', why: 'a byte-order mark before an array' },
  { text: deeplyNested(20_000, 'array'), why: 'arrays nested 20,000 deep' },
  { text: deeplyNested(5_000, 'object'), why: 'objects nested 5,000 deep' },
  { text: JSON.stringify({ prompt: 'x'.repeat(BODY_LIMIT) }), why: 'a body past the size limit' },
];
// (application/json in another UTF charset, utf-7 even, is decoded and parsed: JSON still.)
const WRONG_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=latin1'];

function requestFor(route: ApiRoute): fc.Arbitrary<HostileRequest> {
  const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
  const path = fc
    .tuple(...params.map((name) => fc.oneof({ weight: 3, arbitrary: fc.constant(realParam(route, name)) }, { weight: 1, arbitrary: hostileString.filter((s) => s !== '') })))
    .map((values) => params.reduce((p, name, i) => p.replace(`:${name}`, enc(values[i])), route.path));
  const query = fc
    .dictionary(fc.oneof(fc.constantFrom(...keysOf(route.query), 'extra'), hostileKey), fc.oneof(hostileString, fc.array(hostileString, { minLength: 2, maxLength: 3 })), { maxKeys: 3 })
    .map((q) => toQuery(q));
  const queryInvalid = (q: string) => (route.query ? !route.query.safeParse(parseQuery(q)).success : false);

  if (!route.body) {
    return fc.tuple(path, query).map(([p, q]) => ({ path: p, query: q, mustRefuse: queryInvalid(q), why: 'query' }));
  }
  const schema = bodySchema(route, stack.settings)!;
  const jsonBody = fc
    .oneof(nearObject(schema), hostileJson)
    .filter((v) => !schema.safeParse(v).success)
    .map((v) => ({ contentType: 'application/json', text: JSON.stringify(v) ?? 'null', why: 'a body the schema refuses' }));
  const rawBody = fc.constantFrom(...RAW_BODIES).map((b) => ({ contentType: 'application/json', text: b.text, why: b.why }));
  const wrongType = fc.tuple(fc.constantFrom(...WRONG_TYPES, null), nearObject(schema)).map(([type, v]) => ({ contentType: type, text: JSON.stringify(v), why: `a JSON body sent as ${type ?? 'no content type'}` }));
  return fc.tuple(path, query, fc.oneof({ weight: 3, arbitrary: jsonBody }, { weight: 1, arbitrary: rawBody }, { weight: 1, arbitrary: wrongType })).map(([p, q, b]) => ({
    path: p,
    query: q,
    body: { contentType: b.contentType, text: b.text },
    mustRefuse: true,
    why: b.why,
  }));
}

async function send(route: ApiRoute, r: HostileRequest) {
  const headers: Record<string, string> = { ...authHeaders(route) };
  if (r.body?.contentType) headers['content-type'] = r.body.contentType;
  const res = await fetch(`${stack.baseUrl}${r.path}${r.query ? `?${r.query}` : ''}`, {
    method: route.method.toUpperCase(),
    headers,
    body: r.body ? new TextEncoder().encode(r.body.text) : undefined,
    redirect: 'manual',
  });
  return readBody(res);
}

describe.each(FUZZED.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))('%s', (_name, route) => {
  test('refuses hostile input with a clear 4xx, stays up, and changes nothing', async () => {
    await fuzz(
      fc.asyncProperty(requestFor(route), async (r) => {
        const before = last;
        const res = await send(route, r);
        const context = `${route.method.toUpperCase()} ${r.path}?${r.query.slice(0, 200)} (${r.why}) answered ${res.status}: ${res.text.slice(0, 300)}`;
        // Whatever fails below, the next request is compared with the state this one left.
        const after = await tableFingerprints(stack.db);
        last = after;
        if (res.status >= 500) throw new Error(`server error: ${context}`);
        if (r.mustRefuse) {
          if (res.status < 400) throw new Error(`accepted: ${context}`);
          const e = res.json?.error;
          // Node's HTTP parser refuses a URL past its header limit (16 KiB) with a bare 431, before the gateway sees it.
          if (res.status !== 431 && (typeof e?.message !== 'string' || e.message.length < 6 || typeof e.type !== 'string' || typeof e.code !== 'string' || !(e.param === null || typeof e.param === 'string'))) {
            throw new Error(`not the gateway's error shape: ${context}`);
          }
        }
        if (JSON.stringify(after) !== JSON.stringify(before)) {
          const changed = Object.keys(after).filter((t) => after[t] !== before[t]);
          throw new Error(`tables ${changed.join(', ')} changed after ${context}`);
        }
        // Still serving.
        expect((await fetch(`${stack.baseUrl}/healthz`)).status).toBe(200);
      }),
      0.1,
    );
  });
});

test('a NUL character, which PostgreSQL text cannot hold, is refused by field even where the schema accepts the text', async () => {
  const cases: [string, string, unknown][] = [
    ['PATCH', '/v1/org', { name: 'a\u0000b' }],
    ['POST', '/v1/org/keys', { name: 'k\u0000' }],
    ['POST', '/v1/org/members', { email: 'a@example.com', role: 'member', ['x\u0000']: 1 }],
    ['DELETE', '/v1/org/members/a%00b', undefined],
  ];
  for (const [method, path, body] of cases) {
    const res = await fetch(`${stack.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect({ path, status: res.status }).toEqual({ path, status: 400 });
    expect((await res.json()).error.message).toMatch(/NUL/);
  }
  expect(await tableFingerprints(stack.db)).toEqual(last);
});

test('no request reached Temporal: no workflow exists', async () => {
  const workflows = [];
  for await (const wf of stack.client.workflow.list()) workflows.push(wf.workflowId);
  expect(workflows).toEqual([]);
});
