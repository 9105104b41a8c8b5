/** Child processes of the local stack, with prefixed output and an orderly stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: (line: string) => void } = {},
): ManagedProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  let buffered = '';
  const onData = (d: Buffer) => {
    buffered += d.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      if (lines.length > 200) lines.shift();
      opts.echo?.(`[${name}] ${line}`);
      for (const w of watchers) w(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    waitFor(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer);
          watchers.delete(watch);
          child.off('exit', onExit);
          fn();
        };
        const watch = (line: string) => pattern.test(line) && done(() => resolve(line));
        const onExit = (code: number | null) =>
          done(() => reject(new Error(`${name} exited (code ${code}) before printing ${pattern}:\n${lines.slice(-20).join('\n')}`)));
        const timer = setTimeout(
          () => done(() => reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`))),
          timeoutMs,
        );
        watchers.add(watch);
        child.once('exit', onExit);
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One of this repository's TypeScript entry points (e.g. `gateway/main.ts`) as a process, run through tsx. */
export function startTsProcess(name: string, script: string, opts: { env?: NodeJS.ProcessEnv; echo?: (line: string) => void } = {}): ManagedProcess {
  return startProcess(name, process.execPath, ['--import', 'tsx', script], { cwd: ROOT, ...opts });
}

/** `trd-worker <args>` from this repository's gpu-runner, as a process; with TRD_RUNNER_FAULTS, its test build (gpu-runner/testing). */
export function startTrdWorker(name: string, args: string[], opts: { env?: NodeJS.ProcessEnv; echo?: (line: string) => void } = {}): ManagedProcess {
  const bin = opts.env?.TRD_RUNNER_FAULTS ? 'gpu-runner/testing/trd-worker.js' : 'gpu-runner/bin/trd-worker.js';
  return startProcess(name, process.execPath, [bin, ...args], { cwd: ROOT, ...opts });
}
