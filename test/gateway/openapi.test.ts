/**
 * /openapi.json lists every route the gateway serves, once, from the same zod
 * schemas that validate requests: a route added to the app and not to the
 * document fails here, and so does a documented route the app lacks.
 */
import { expect, test } from '@jest/globals';
import { z } from 'zod';
import { createGatewayApp } from '../../gateway/app.js';
import { API_ROUTES } from '../../gateway/openapi.js';
import { ChatCompletionBody } from '../../gateway/schemas.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

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
