// `node --import ./loaded-modules.mjs …`: appends every module the process resolves (its URL, one a line)
// to the file LOADED_MODULES_FILE names, so a test can tell which packages a command loaded.
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(file, resolved.url + '\\n');
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file: process.env.LOADED_MODULES_FILE } });
