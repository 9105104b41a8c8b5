/**
 * The Temporal CLI dev server for the local stack and the tests: a real
 * Temporal server in one process, persisting to SQLite when given a file.
 */
import { Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface TemporalDevServer {
  address: string;
  uiUrl?: string;
  /** SIGTERM by default; SIGKILL is a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** TEMPORAL_CLI, else `temporal` on PATH, else where `go install` puts it. */
export function findTemporalCli(env = process.env): string | undefined {
  if (env.TEMPORAL_CLI) {
    if (!executable(env.TEMPORAL_CLI)) throw new Error(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`);
    return env.TEMPORAL_CLI;
  }
  const candidates = [
    ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'temporal')),
    join(env.GOBIN || join(env.GOPATH || join(homedir(), 'go'), 'bin'), 'temporal'),
  ];
  return candidates.find(executable);
}

export async function waitForTemporal(address: string, timeoutMs: number, exited?: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    const why = exited?.();
    if (why) throw new Error(`Temporal dev server exited during start-up: ${why}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${lastError}`);
}

/**
 * One partition per task queue. The server's default is 4, which suits many
 * pollers; a model queue has a few (a runner polls each of its queues with
 * its job slots), so tasks spread over 4 partitions are handed out in no
 * order across them, and a job can wait behind hundreds accepted after it.
 * The floor measured 15.4 → 37.6 jobs/s with one partition (issue 18).
 */
export const DEV_SERVER_DYNAMIC_CONFIG = ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'];

/** The dev server's flags: what DEV_SERVER_DYNAMIC_CONFIG says, as the CLI takes it. */
export const DEV_SERVER_FLAGS = DEV_SERVER_DYNAMIC_CONFIG.flatMap((value) => ['--dynamic-config-value', value]);

/**
 * For a dev server on a SQLite file (`npm run dev`): a write-ahead log and no
 * fsync per commit. SQLite's default (rollback journal, synchronous=FULL)
 * syncs every transaction, and the floor on a file fell to 3.9 jobs/s against
 * 19 with these (scripts/floor/levers.ts, docs/operations.md "Hot path").
 * NORMAL keeps the database consistent on a crash; the last commits before a
 * power cut may be lost, which a dev stack can afford. An in-memory server
 * gains nothing from them (measured the same), so it is not given them.
 */
export const DEV_SERVER_FILE_PRAGMAS = ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL'];

/**
 * Runs `temporal server start-dev`: with the CLI found on this machine as our
 * own child process, or else through the Temporal SDK, which downloads the CLI
 * (for a machine with internet and no Go).
 */
export async function startTemporalDevServer(opts: {
  cli: string | undefined;
  port: number;
  uiPort?: number;
  /** The codec server the UI calls to show sealed payloads (the gateway's /v1/codec, gateway/codec-server.ts). */
  uiCodecEndpoint?: string;
  dbFile?: string;
  /** Namespaces to create besides `default` (tests give each file its own). */
  namespaces?: string[];
  logFile?: (line: string) => void;
  /** The server's storage and matching flags; DEV_SERVER_FLAGS unless a comparison (scripts/floor/levers.ts) gives others. */
  flags?: string[];
}): Promise<TemporalDevServer> {
  if (!opts.cli) return startWithSdkDownload(opts);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn'];
  for (const ns of ['default', ...(opts.namespaces ?? [])]) args.push('--namespace', ns);
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.uiPort && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  args.push(...(opts.flags ?? (opts.dbFile ? [...DEV_SERVER_FLAGS, ...DEV_SERVER_FILE_PRAGMAS] : DEV_SERVER_FLAGS)));
  const child: ChildProcess = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let exitReason: string | null = null;
  let stderrTail = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-2000);
    opts.logFile?.(d.toString());
  });
  child.stdout?.on('data', (d: Buffer) => opts.logFile?.(d.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitReason = `code ${code} signal ${signal}; ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
      resolve();
    }),
  );
  const address = `127.0.0.1:${opts.port}`;
  try {
    await waitForTemporal(address, 60_000, () => exitReason);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    async stop(signal = 'SIGTERM') {
      if (exitReason === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Exported so a test can run this path with a local CLI, where nothing can be downloaded. */
export async function startWithSdkDownload(opts: {
  port: number;
  uiPort?: number;
  uiCodecEndpoint?: string;
  dbFile?: string;
  namespaces?: string[];
  executable?: string;
}): Promise<TemporalDevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: opts.executable ? { type: 'existing-path', path: opts.executable } : { type: 'cached-download' },
      ip: '127.0.0.1',
      port: opts.port,
      ui: Boolean(opts.uiPort),
      uiPort: opts.uiPort,
      dbFilename: opts.dbFile,
      log: { format: 'pretty', level: 'warn' },
      extraArgs: [
        ...(opts.namespaces ?? []).flatMap((ns) => ['--namespace', ns]),
        ...(opts.uiPort && opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
        ...DEV_SERVER_FLAGS,
        ...(opts.dbFile ? DEV_SERVER_FILE_PRAGMAS : []),
      ],
    },
  });
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
