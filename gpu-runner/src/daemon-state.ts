/** The running daemon's own record (pid, id, start time), for `trd-worker status`. */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { workerHome } from './paths.js';

export interface DaemonState {
  pid: number;
  worker_id: string;
  started_at: string;
}

export const daemonStateFile = (env = process.env) => join(workerHome(env), 'daemon.json');

export async function writeDaemonState(s: DaemonState, file = daemonStateFile()): Promise<void> {
  await mkdir(workerHome(), { recursive: true });
  await writeFile(file, `${JSON.stringify(s)}\n`);
}

export async function readDaemonState(file = daemonStateFile()): Promise<DaemonState | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DaemonState;
  } catch {
    return null;
  }
}

export async function clearDaemonState(file = daemonStateFile()): Promise<void> {
  await rm(file, { force: true });
}
