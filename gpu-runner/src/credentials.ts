/**
 * The runner's credential from `trd-worker login`: the gateway, the runner id
 * and its token, in a 0600 file under the user's config directory.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Credentials {
  gateway_url: string;
  runner_id: string;
  token: string;
}

export function credentialsFile(env = process.env): string {
  const dir = env.TRD_WORKER_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'trd-worker');
  return join(dir, 'credentials.json');
}

/** The stored credential, null when there is none; a damaged file is an error that says what to do. */
export async function readCredentials(file = credentialsFile()): Promise<Credentials | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: Partial<Credentials>;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON: run \`trd-worker logout\` and \`trd-worker login\` again`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} does not hold a credential object: run \`trd-worker logout\` and \`trd-worker login\` again`);
  }
  for (const key of ['gateway_url', 'runner_id', 'token'] as const) {
    if (typeof parsed[key] !== 'string' || !parsed[key]) throw new Error(`${file} has no ${key}: run \`trd-worker logout\` and \`trd-worker login\` again`);
  }
  return parsed as Credentials;
}

export async function writeCredentials(c: Credentials, file = credentialsFile()): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // an existing file keeps its old mode through writeFile
}

/** Returns whether there was one. */
export async function removeCredentials(file = credentialsFile()): Promise<boolean> {
  try {
    await rm(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
