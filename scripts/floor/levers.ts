/**
 * The dev server's storage and matching flags, each measured against the
 * others in one run (issue 18): the floor (./floor.ts) on a fresh dev server
 * per setting, the settings interleaved round by round so that the machine's
 * load drifts over all of them alike. Figures only; read them as ratios.
 *
 *   node --import tsx scripts/floor/levers.ts [--jobs 200] [--sequential 30] [--rounds 2]
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../devstack/ports.js';
import { DEV_SERVER_FILE_PRAGMAS, DEV_SERVER_FLAGS, findTemporalCli, startTemporalDevServer } from '../../devstack/temporal.js';
import { measureFloor, percentiles, type FloorFigures } from './floor.js';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '200' }, sequential: { type: 'string', default: '30' }, rounds: { type: 'string', default: '2' } } });
const jobs = Number(values.jobs);
const sequential = Number(values.sequential);
const rounds = Number(values.rounds);

const partitions4: string[] = [];
const pragmas = (sync: string) => ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', `synchronous=${sync}`];
const settings: Array<{ name: string; flags: string[]; file: boolean }> = [
  { name: 'in-memory, 4 partitions (server default)', flags: partitions4, file: false },
  { name: 'in-memory, 1 partition (devstack today)', flags: DEV_SERVER_FLAGS, file: false },
  { name: 'in-memory, 1 partition, WAL + synchronous=OFF', flags: [...DEV_SERVER_FLAGS, ...pragmas('OFF')], file: false },
  { name: 'file, 1 partition, no pragmas (npm run dev before)', flags: DEV_SERVER_FLAGS, file: true },
  { name: 'file, 1 partition, WAL + synchronous=NORMAL (npm run dev)', flags: [...DEV_SERVER_FLAGS, ...DEV_SERVER_FILE_PRAGMAS], file: true },
  { name: 'file, 1 partition, WAL + synchronous=OFF', flags: [...DEV_SERVER_FLAGS, ...pragmas('OFF')], file: true },
];

Runtime.install({ logger: new DefaultLogger('WARN') });
const cli = findTemporalCli();
if (!cli) throw new Error('levers: needs the Temporal CLI (scripts/setup.sh installs it)');
const results = new Map<string, FloorFigures[]>();
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`levers: ${settings.length} settings × ${rounds} rounds, ${jobs}-job burst, ${sequential} one at a time; load ${load()}`);
for (let round = 0; round < rounds; round++) {
  // Rotate the order so that no setting always runs first or last.
  const order = settings.map((_, i) => settings[(i + round) % settings.length]);
  for (const s of order) {
    const dir = mkdtempSync(join(tmpdir(), 'levers-'));
    const server = await startTemporalDevServer({ cli, port: await freePort(), namespaces: ['floor'], dbFile: s.file ? join(dir, 'temporal.db') : undefined, flags: s.flags });
    try {
      const f = await measureFloor({ temporalAddress: server.address, namespace: 'floor', jobs, sequential });
      results.set(s.name, [...(results.get(s.name) ?? []), f]);
      console.log(`  round ${round + 1} ${s.name}: ${f.burst.jobs_per_s} jobs/s; start → started p50 ${f.start_to_activity_started_ms.p50} p99 ${f.start_to_activity_started_ms.p99} ms; load ${load()}`);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
const base = results.get(settings[1].name)!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const baseRate = mean(base.map((f) => f.burst.jobs_per_s));
console.log(`\nsummary (mean burst jobs/s over rounds, × the devstack's in-memory setting; start → started medians of the rounds' p50/p99):`);
for (const s of settings) {
  const fs = results.get(s.name)!;
  const rate = mean(fs.map((f) => f.burst.jobs_per_s));
  const p50 = percentiles(fs.map((f) => f.start_to_activity_started_ms.p50)).p50;
  const p99 = percentiles(fs.map((f) => f.start_to_activity_started_ms.p99)).p50;
  console.log(`  ${s.name.padEnd(50)} ${rate.toFixed(1).padStart(5)} jobs/s ×${(rate / baseRate).toFixed(2)}   start → started p50 ${p50} / p99 ${p99} ms`);
}
console.log(`load at the end ${load()}`);
