/**
 * /openapi.json lists every route the gateway serves, once, from the same zod
 * schemas that validate requests: a route added to the app and not to the
 * document fails here, and so does a documented route the app lacks.
 *
 * And the gateway answers as the document says, operation by operation:
 * requests generated from the document itself (valid ones, and ones that
 * break one stated rule), sent with the right credential. Every answer's
 * status must be one the document lists (errors under `default`), with a
 * listed media type (or no body where it lists none); a request that breaks a
 * stated rule is refused with a 4xx; nothing is a 5xx; a method a path does
 * not have is a 405 naming the ones it has. Cases per operation scale with
 * TRD_FUZZ_RUNS (6 at the default), from the fixed TRD_FUZZ_SEED.
 */
import { expect, test } from '@jest/globals';
import fc from 'fast-check';
import { z } from 'zod';
import { createGatewayApp } from '../../gateway/app.js';
import { API_ROUTES } from '../../gateway/openapi.js';
import { createRunnerToken } from '../../gateway/runners.js';
import { ChatCompletionBody } from '../../gateway/schemas.js';
import { fuzz, hostileString } from '../fuzz/fuzz-settings.js';
import { useStack } from '../support/stack.js';

type Schema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  op: Schema;
}
interface Generated {
  path: string;
  query: string;
  body?: string;
  /** Why the document says this request is refused; null when it conforms. */
  breaks: string | null;
}

/** Share of TRD_FUZZ_RUNS each operation gets: every case is an HTTP round trip, some start a job. */
const CASES_SCALE = 0.06;

// No runner here: a job that conforms fails at a short deadline, so the calls that wait for a result answer soon.
const stack = useStack({ jobLimits: { deadlineMs: 1500, warmWaitMs: 200 }, settings: { rateLimits: { windowMs: 60_000, perIp: 1e6, perCredential: 1e6 } } });

/** Every method + path the app routes, found by walking Express's router stacks. */
function appRoutes(): string[] {
  const app = createGatewayApp({ db: stack.db, temporal: stack.client, settings: stack.settings });
  const found: string[] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) for (const method of Object.keys(layer.route.methods)) found.push(`${method} ${layer.route.path}`);
      else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as any).router.stack);
  return found.sort();
}

test('the document and the app have the same routes', () => {
  const routes = appRoutes();
  expect(routes.length).toBeGreaterThan(20);
  expect(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort()).toEqual(routes);
});

test('/openapi.json is OpenAPI 3.1 whose request schemas are the validators’ own', async () => {
  const doc = await (await fetch(`${stack.baseUrl}/openapi.json`)).json();
  expect(doc.openapi).toBe('3.1.0');
  const chat = doc.paths['/v1/chat/completions'].post;
  expect(chat.security).toEqual([{ api_key: [] }]);
  const schema = chat.requestBody.content['application/json'].schema;
  expect(schema).toEqual(JSON.parse(JSON.stringify(z.toJSONSchema(ChatCompletionBody, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }))));
  expect(schema.required).toEqual(expect.arrayContaining(['model', 'messages']));
  expect(schema.additionalProperties).toBe(false);
  expect(doc.paths['/v1/jobs/{id}'].get.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true }), expect.objectContaining({ name: 'wait', in: 'query' })]));
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      expect([path, method, typeof op.summary, op.responses?.default?.content['application/json'].schema]).toEqual([path, method, 'string', { $ref: '#/components/schemas/Error' }]);
    }
  }
});

/** Values a schema allows. */
function valid(s: Schema): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.anyOf || s.oneOf) return fc.oneof(...(s.anyOf ?? s.oneOf).map(valid));
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const props: Record<string, Schema> = s.properties ?? {};
      const required = new Set<string>(s.required ?? []);
      return fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, valid(v)])), { requiredKeys: [...required].filter((k) => k in props) });
    }
    case 'array':
      return fc.array(valid(s.items ?? {}), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    case 'string':
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= (s.minLength ?? 0) && x.length <= (s.maxLength ?? Infinity));
      if (s.format === 'email') return fc.emailAddress().filter((x) => x.length <= (s.maxLength ?? 254));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 20, 20) });
    case 'integer':
    case 'number': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (type === 'integer' ? 1 : 1e-3) : -1e6);
      const max = Math.min(s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - (type === 'integer' ? 1 : 1e-3) : 1e6), 1e9);
      return type === 'integer' ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.constant({});
  }
}

/**
 * Values that break one rule the schema states (null when it states none this can break), with the rule.
 * `asText`: the value travels as URL text, where a wrong type may read as right (`"12"` for a number), so
 * only bounds and patterns count. Rules are left out rather than filtered away: a filter that never
 * passes would make fast-check generate forever.
 */
function invalid(s: Schema, asText = false): fc.Arbitrary<{ value: unknown; why: string }> | null {
  const out: fc.Arbitrary<{ value: unknown; why: string }>[] = [];
  const type = Array.isArray(s.type) ? null : s.type;
  const broken = (arb: fc.Arbitrary<unknown>, why: string) => out.push(arb.map((value) => ({ value, why })));
  const wrongType = (arb: fc.Arbitrary<unknown>, why: string) => asText || broken(arb, why);
  if (s.enum) broken(hostileString.filter((x) => !s.enum.includes(x) && (!asText || x !== '')), `not one of ${s.enum.join(', ')}`);
  if (type === 'object') {
    wrongType(fc.constantFrom('text', 12, null, [1]), 'not an object');
    for (const key of s.required ?? []) broken(valid(s).map((v) => Object.fromEntries(Object.entries(v as object).filter(([k]) => k !== key))), `${key} missing`);
    if (s.additionalProperties === false) broken(valid(s).map((v) => ({ ...(v as object), not_a_field: 1 })), 'a field it does not have');
    for (const [key, prop] of Object.entries<Schema>(s.properties ?? {})) {
      const bad = invalid(prop);
      if (bad) out.push(fc.tuple(valid(s), bad).map(([v, b]) => ({ value: { ...(v as object), [key]: b.value }, why: `${key}: ${b.why}` })));
    }
  }
  if (type === 'string') {
    wrongType(fc.integer(), 'not a string');
    if (s.maxLength !== undefined) broken(fc.constant('x'.repeat(s.maxLength + 1)), `longer than ${s.maxLength}`);
    if (s.pattern) broken(hostileString.filter((x) => !new RegExp(s.pattern).test(x) && (!asText || x !== '')), `not ${s.pattern}`);
  }
  if (type === 'integer' || type === 'number') {
    wrongType(fc.constant('12'), 'not a number');
    if (s.minimum !== undefined) broken(fc.constant(s.minimum - 1), `below ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined) broken(fc.constant(s.exclusiveMinimum), `not above ${s.exclusiveMinimum}`);
    if (s.maximum !== undefined) broken(fc.constant(s.maximum + 1), `above ${s.maximum}`);
    if (type === 'integer') broken(fc.constant(1.5), 'not whole');
  }
  if (type === 'boolean') wrongType(fc.constant('yes'), 'not a boolean');
  return out.length ? fc.oneof(...out) : null;
}

/** A query or path value as the URL carries it. */
const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

function requests({ path, op }: Operation): fc.Arbitrary<Generated> {
  const params: Schema[] = op.parameters ?? [];
  // A long poll answers at its bound: keep it short, the route is the same.
  // An empty path parameter would make another URL (`/v1/workers//card`): path values have a character at least.
  const param = (p: Schema) => (p.name === 'wait' ? fc.constantFrom(0, 1) : valid(p.in === 'path' && p.schema.type === 'string' ? { minLength: 1, ...p.schema } : p.schema));
  const validParams = fc.tuple(...params.map((p) => (p.required ? param(p).map((v) => [p, v] as const) : fc.option(param(p), { nil: undefined }).map((v) => [p, v] as const))));
  const bodySchema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
  const validBody = bodySchema ? valid(bodySchema).map((v) => JSON.stringify(v)) : fc.constant(undefined);
  const build = (values: ReadonlyArray<readonly [Schema, unknown]>, body: string | undefined, breaks: string | null): Generated => {
    let url = path;
    const query = new URLSearchParams();
    for (const [p, v] of values) {
      if (v === undefined) continue;
      if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(asText(v)));
      else query.set(p.name, asText(v));
    }
    return { path: url.replace(/\{(\w+)\}/g, 'x'), query: query.toString(), body: op.requestBody ? (body ?? '{}') : undefined, breaks };
  };
  const conforming = fc.tuple(validParams, validBody).map(([values, body]) => build(values, body, null));
  const breaking: fc.Arbitrary<Generated>[] = [];
  params.forEach((p, i) => {
    const bad = invalid(p.schema, true);
    if (bad) breaking.push(fc.tuple(validParams, validBody, bad).map(([values, body, b]) => build(values.map((pv, j) => (j === i ? [p, b.value] : pv)), body, `${p.name}: ${b.why}`)));
  });
  if (bodySchema) {
    const bad = invalid(bodySchema);
    if (bad) breaking.push(fc.tuple(validParams, bad).map(([values, b]) => build(values, JSON.stringify(b.value), `body: ${b.why}`)));
  }
  if (op.requestBody?.required) breaking.push(validParams.map((values) => ({ ...build(values, undefined, 'no body'), body: undefined })));
  return breaking.length ? fc.oneof(conforming, ...breaking) : conforming;
}

test('every operation answers with a documented status and media type, and refuses what the document refuses', async () => {
  const doc = await (await fetch(`${stack.baseUrl}/openapi.json`)).json();
  const runnerToken = await createRunnerToken(stack.db, 'conformance-runner');
  const signIn = await fetch(`${stack.baseUrl}/v1/owner/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: stack.apiKey }) });
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
  const credentials: Record<string, Record<string, string>> = {
    api_key: { authorization: `Bearer ${stack.apiKey}` },
    runner_token: { authorization: `Bearer ${runnerToken}` },
    stream_token: { authorization: 'Bearer trd_st_conformance' },
    owner_session: { cookie },
  };
  const operations: Operation[] = Object.entries<Schema>(doc.paths).flatMap(([path, ops]) =>
    Object.entries<Schema>(ops)
      // Signing out or revoking its own credential would only make the rest of the run a test of 401s;
      // an endless event stream sends its headers with its first event.
      .filter(([method, op]) => !(method === 'delete' && (path === '/v1/owner/session' || path === '/v1/runners/token')) && String(Object.keys(op.responses['200']?.content ?? {})) !== 'text/event-stream')
      .map(([method, op]) => ({ method, path, op })),
  );
  expect(operations.length).toBeGreaterThan(50);
  const problems: string[] = [];
  for (const operation of operations) {
    const { method, op } = operation;
    const auth = Object.keys(op.security?.[0] ?? {})[0];
    await fuzz(
      fc.asyncProperty(requests(operation), async (req) => {
        const said0 = `${method.toUpperCase()} ${req.path}${req.query ? `?${req.query}` : ''}`;
        const res = await fetch(`${stack.baseUrl}${req.path}${req.query ? `?${req.query}` : ''}`, {
          method: method.toUpperCase(),
          signal: AbortSignal.timeout(15_000),
          redirect: 'manual',
          headers: { ...(auth ? credentials[auth] : {}), ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: req.body,
        }).catch((err: Error) => {
          problems.push(`${said0}: no answer (${err.message})`);
          return null;
        });
        if (!res) return true;
        const media = (res.headers.get('content-type') ?? '').split(';')[0].trim();
        const streaming = media === 'text/event-stream';
        const text = streaming ? '' : await res.text();
        if (streaming) await res.body?.cancel();
        const documented = op.responses[res.status] ?? (res.status >= 400 ? op.responses.default : undefined);
        const said = `${method.toUpperCase()} ${req.path}${req.query ? `?${req.query}` : ''} → ${res.status} ${media || '(no type)'}`;
        if (!documented) return void problems.push(`${said}: status not documented`);
        const types = Object.keys(documented.content ?? {});
        if (types.length ? !types.includes(media) : text.length > 0) problems.push(`${said}: documented as ${types.join(' or ') || 'no body'}`);
        // A 5xx only where the document states it (a feature this gateway has not set up, e.g. Stripe).
        if (res.status >= 500 && !op.responses[res.status]) problems.push(`${said}: a server error (${text.slice(0, 200)})`);
        if (req.breaks && res.status < 400) problems.push(`${said}: accepted, yet the document refuses it (${req.breaks})`);
        return true;
      }),
      CASES_SCALE,
    );
  }
  expect(problems).toEqual([]);
}, 300_000);

test('a method a path does not have is a 405 that names the ones it has', async () => {
  for (const [path, methods] of [
    ['/v1/jobs', 'POST'],
    ['/v1/org', 'GET, PATCH, HEAD'],
    ['/v1/estimate', 'GET, HEAD'],
  ] as const) {
    const res = await fetch(`${stack.baseUrl}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect([path, res.status, res.headers.get('allow')]).toEqual([path, 405, methods]);
    expect((await res.json()).error).toMatchObject({ code: 'method_not_allowed' });
  }
  expect((await fetch(`${stack.baseUrl}/v1/no-such-thing`, { method: 'PUT' })).status).toBe(404);
});
