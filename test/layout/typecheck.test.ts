/**
 * `npm run typecheck` (tsc -p tsconfig.json) reads every TypeScript file in
 * the repository: an entry point outside tsconfig.json's `include` (such as
 * runner-proxy/main.ts, which docker-compose runs) would never be checked.
 */
import { expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('tsconfig.json includes every TypeScript file git tracks', () => {
  const config = ts.readConfigFile(`${ROOT}tsconfig.json`, ts.sys.readFile);
  expect(config.error).toBeUndefined();
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const checked = new Set(parsed.fileNames.map((f) => f.slice(ROOT.length)));
  const tracked = execFileSync('git', ['ls-files', '*.ts', '*.mts', '*.cts'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  expect(tracked.length).toBeGreaterThan(100);
  expect(tracked.filter((f) => !checked.has(f))).toEqual([]);
});
