/**
 * A real SMTP server for tests: Python's aiosmtpd (installed by
 * `scripts/setup.sh --browser`), delivering into a Maildir the test reads.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, type ManagedProcess } from '../../devstack/processes.js';

export interface TestSmtpServer {
  host: string;
  port: number;
  /** Every message received so far, raw (headers and body), oldest first. */
  messages(): string[];
  /** Waits for the `n`th message (1-based). */
  waitForMessage(n: number, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

export async function startSmtpServer(): Promise<TestSmtpServer> {
  // A path that does not exist yet: the Maildir handler makes it with its tmp/new/cur folders.
  const maildir = join(mkdtempSync(join(tmpdir(), 'smtp-')), 'maildir');
  const port = await freePort();
  const python = process.env.PYTHON || 'python3';
  const proc: ManagedProcess = startProcess('aiosmtpd', python, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir]);
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    if (proc.child.exitCode !== null) throw new Error(`aiosmtpd exited (code ${proc.child.exitCode}): install it with \`bash scripts/setup.sh --browser\` (pip install aiosmtpd)`);
    if (Date.now() > deadline) throw new Error('aiosmtpd did not listen within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const messages = () => {
    const dir = join(maildir, 'new');
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch {
      return [];
    }
    return files
      .map((f) => ({ at: statSync(join(dir, f)).mtimeMs, text: readFileSync(join(dir, f), 'utf8') }))
      .sort((a, b) => a.at - b.at)
      .map((m) => m.text);
  };
  return {
    host: '127.0.0.1',
    port,
    messages,
    async waitForMessage(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const all = messages();
        if (all.length >= n) return all[n - 1]!;
        if (Date.now() > until) throw new Error(`the SMTP server got ${all.length} message(s) within ${timeoutMs} ms, not ${n}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => proc.stop(),
  };
}
