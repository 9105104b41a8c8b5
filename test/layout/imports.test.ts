/**
 * The shape of the import graph: no circles (types included), workflow code
 * reached only by the worker's bundle, and the module workflows share with
 * their callers free of Temporal and I/O. Reads the sources with the
 * compiler's parser; takes about a second.
 */
import { expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { importCycles, importEdges, type ImportEdge } from './import-graph.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const edges = importEdges(ROOT);
const runtime = edges.filter((e) => !e.typeOnly);

test('the checker sees type-only imports and finds a circle when there is one', () => {
  // Workflows import their activities' types only: the proxy is typed, nothing is loaded.
  expect(edges).toContainEqual({ from: 'workflows/audit-job.ts', to: 'activities/audit-activities.ts', typeOnly: true });
  expect(edges).toContainEqual({ from: 'workflows/audit-job.ts', to: 'npm:@temporalio/workflow', typeOnly: false });
  const edge = (from: string, to: string): ImportEdge => ({ from, to, typeOnly: true });
  expect(importCycles([edge('a.ts', 'b.ts'), edge('b.ts', 'c.ts'), edge('c.ts', 'a.ts'), edge('c.ts', 'd.ts'), edge('d.ts', 'd.ts')])).toEqual([['a.ts', 'b.ts', 'c.ts']]);
});

test('no two files import each other, directly or around a circle, not even for types', () => {
  expect(importCycles(edges)).toEqual([]);
});

test('code outside workflows/ never loads a workflow module (ids, inputs and failure types are in platform/workflow-api.ts)', () => {
  const intoWorkflows = runtime.filter((e) => e.to.startsWith('workflows/') && !e.from.startsWith('workflows/'));
  expect(intoWorkflows).toEqual([]);
});

test('the runner endpoint shares token hashing through platform/, never loading gateway code', () => {
  expect(runtime.filter((e) => e.from.startsWith('runner-proxy/') && e.to.startsWith('gateway/'))).toEqual([]);
  expect(runtime).toContainEqual({ from: 'runner-proxy/proxy.ts', to: 'platform/tokens.ts', typeOnly: false });
});

test('platform/workflow-api.ts imports no Temporal package and loads nothing but the protocol', () => {
  const from = edges.filter((e) => e.from === 'platform/workflow-api.ts');
  expect(from.filter((e) => e.to.includes('@temporalio'))).toEqual([]);
  expect(from.filter((e) => !e.typeOnly && !e.to.startsWith('protocol/src/'))).toEqual([]);
});

test('workflow code loads only the workflow SDK, the protocol, pure platform modules and its own files', () => {
  const allowed = /^(workflows\/|protocol\/src\/|platform\/workflow-api\.ts$|economy\/billing\.ts$|cascade\/tiers\.ts$|audits\/verdict\.ts$|npm:@temporalio\/(workflow|common)$)/;
  const loaded = runtime.filter((e) => e.from.startsWith('workflows/') && !allowed.test(e.to));
  expect(loaded).toEqual([]);
});

test('workflow code loads no zod and no catalog validation, not even through the protocol: the SDK evaluates every module of the bundle again for each workflow run', () => {
  const reached = new Set<string>(edges.filter((e) => e.from.startsWith('workflows/')).map((e) => e.from));
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of runtime) if (reached.has(e.from) && !reached.has(e.to)) (reached.add(e.to), (grew = true));
  }
  expect([...reached].filter((m) => m === 'npm:zod' || m.startsWith('npm:zod/') || m === 'protocol/src/models.ts' || m === 'protocol/src/index.ts')).toEqual([]);
  // The check sees what it is for: the protocol's index does load zod.
  expect(runtime.some((e) => e.from === 'protocol/src/models.ts' && e.to === 'npm:zod')).toBe(true);
});
