import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Each test file gets its own Temporal namespace, so no file's runners or workflows meet another's. */
export function namespaceForTestFile(path: string): string {
  return `t-${relative(`${ROOT}test`, path).replace(/\.test\.ts$/, '').replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
}
