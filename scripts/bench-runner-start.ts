/**
 * How long trd-worker takes to start for the commands that need no model and no Temporal connection,
 * wall time and CPU time (user + system, steadier on a loaded machine), median of N runs per command.
 * Several bins are run in turns, so machine load falls on each alike (their ratio is the figure).
 *   node --import tsx scripts/bench-runner-start.ts [--runs N] [bin.js ...]   (default: gpu-runner/bin/trd-worker.js)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 10;
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs takes a whole number from 1');
const bins = args.length ? args : ['gpu-runner/bin/trd-worker.js'];
const home = mkdtempSync(join(tmpdir(), 'bench-start-'));
// Not logged in, and a gateway nobody listens on: each command answers from what it has locally.
const env = { ...process.env, TRD_WORKER_CONFIG_DIR: join(home, 'config'), TRD_WORKER_HOME: home, TRD_GATEWAY_URL: 'http://127.0.0.1:9' };
const COMMANDS = [['--help'], ['status'], ['settings'], ['login', '--token', 'not-a-token']];

/** One run under /usr/bin/time: wall and CPU milliseconds. */
function once(bin: string, argv: string[]): { wall: number; cpu: number } {
  const out = join(home, 'time');
  spawnSync('/usr/bin/time', ['-o', out, '-f', '%e %U %S', process.execPath, bin, ...argv], { env, stdio: 'ignore' });
  // The last line: a failing command's 'Command exited with non-zero status' comes before it.
  const [wall, user, sys] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall: wall * 1000, cpu: (user + sys) * 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
for (const argv of COMMANDS) {
  const seen = bins.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < runs; i++) {
    bins.forEach((bin, b) => {
      const t = once(bin, argv);
      seen[b].wall.push(t.wall);
      seen[b].cpu.push(t.cpu);
    });
  }
  bins.forEach((bin, b) => {
    console.log(`${argv[0].padEnd(9)} ${bin.padEnd(40)} wall ${String(Math.round(median(seen[b].wall))).padStart(5)} ms  cpu ${String(Math.round(median(seen[b].cpu))).padStart(5)} ms  (median of ${runs})`);
  });
}
rmSync(home, { recursive: true, force: true });
