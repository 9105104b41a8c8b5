/**
 * The import graph of the project's own TypeScript, read with the compiler's
 * parser (no build): which file imports which, and whether only for types.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  from: string;
  /** A project file, or `npm:<specifier>` for a package outside the workspaces. */
  to: string;
  /** Erased at build time (`import type`, or every name marked `type`): no module is loaded. */
  typeOnly: boolean;
}

/** The project's `.ts` files outside test/ (tracked, or new and not ignored), relative to `root`. */
export function sourceFiles(root: string): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.startsWith('test/') && !f.endsWith('.d.ts'));
}

/** Workspace packages imported by name, mapped to their folders (`@trd/protocol/x` → protocol/src/x.ts). */
const PACKAGES: Record<string, { dir: string; main: string }> = {
  '@trd/protocol': { dir: 'protocol/src', main: 'protocol/src/index.ts' },
};

function resolve(from: string, spec: string, files: Set<string>): string | null {
  let path: string | null = null;
  if (spec.startsWith('.')) path = normalize(join(dirname(from), spec));
  else {
    for (const [name, pkg] of Object.entries(PACKAGES)) {
      if (spec === name) path = pkg.main;
      else if (spec.startsWith(`${name}/`)) path = `${pkg.dir}/${spec.slice(name.length + 1)}`;
    }
  }
  if (path === null) return null;
  for (const candidate of [path.replace(/\.js$/, '.ts'), `${path}.ts`, path, `${path}/index.ts`]) if (files.has(candidate)) return candidate;
  return null;
}

function typeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import loads the module
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function typeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return !!clause && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

export function importEdges(root: string, files = sourceFiles(root)): ImportEdge[] {
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const source = ts.createSourceFile(from, readFileSync(join(root, from), 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const add = (spec: string, typeOnly: boolean) => {
      const to = resolve(from, spec, known) ?? (spec.startsWith('.') ? null : `npm:${spec}`);
      if (to) edges.push({ from, to, typeOnly });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) add(node.moduleSpecifier.text, typeOnlyImport(node));
      else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) add(node.moduleSpecifier.text, typeOnlyExport(node));
      else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) add(node.argument.literal.text, true);
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) add(node.arguments[0].text, false);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return edges;
}

/** Every import circle (types included), each once, as the files around it starting from its smallest name. */
export function importCycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) if (e.from !== e.to && !e.to.startsWith('npm:')) (next.get(e.from) ?? next.set(e.from, new Set()).get(e.from)!).add(e.to);
  // Tarjan's strongly connected components: a component of two or more files holds at least one circle.
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!order.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!order.has(v)) connect(v);
  return components.sort((a, b) => a[0].localeCompare(b[0]));
}
