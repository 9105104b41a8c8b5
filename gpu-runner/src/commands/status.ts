/** `trd-worker status`: is the daemon running, in what state, and what it did today. */
import { Command } from 'commander';
import { readCredentials } from '../credentials.js';
import { readDaemonState } from '../daemon-state.js';
import { gatewayCall } from '../gateway-api.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show whether the daemon runs, its state, and today\'s jobs and credits')
    .option('--json', 'one JSON object, for scripts')
    .action(async (o) => {
      const daemon = await readDaemonState();
      const running = daemon !== null && alive(daemon.pid);
      const credentials = await readCredentials();
      let gatewayProblem: string | null = null;
      const me = credentials
        ? await gatewayCall(credentials.gateway_url, '/v1/runners/me', credentials.token, { method: 'GET' }).catch((err: Error) => {
            // The daemon's own state is still worth showing.
            gatewayProblem = err.message;
            return null;
          })
        : null;
      const report = {
        running,
        pid: running ? daemon!.pid : null,
        since: running ? daemon!.started_at : null,
        runner_id: me?.runner_id ?? daemon?.worker_id ?? null,
        state: running ? (me?.state ?? 'unknown') : 'stopped',
        tier: me?.tier ?? null,
        reputation_score: me?.reputation_score ?? null,
        shadowbanned: me?.shadowbanned ?? null,
        version: me?.version ?? null,
        update: me?.update ?? null,
        fleet: me?.fleet ?? null,
        current_jobs: running ? (me?.current_jobs ?? []) : [],
        today: me?.today ?? null,
        audits: me?.audits ?? null,
        logged_in: credentials !== null,
        gateway_problem: gatewayProblem,
      };
      if (o.json) {
        console.log(JSON.stringify(report));
        return;
      }
      console.log(`daemon           ${running ? `running (pid ${report.pid}, since ${report.since})` : 'not running'}`);
      console.log(`runner           ${report.runner_id ?? '-'}${report.tier ? ` (tier ${report.tier})` : ''}${credentials ? '' : ' — not logged in: run `trd-worker login`'}`);
      console.log(`state            ${report.state}${report.current_jobs.length ? ` (on ${report.current_jobs.join(', ')})` : ''}`);
      if (me) console.log(`today            ${me.today.jobs} job(s), ${(me.today.earned_microcredits / 1e6).toFixed(6)} credits earned`);
      if (me?.today.warm_pool?.minutes) console.log(`warm pool        ${me.today.warm_pool.minutes} warm minute(s) paid today, ${(me.today.warm_pool.earned_microcredits / 1e6).toFixed(6)} credits (in the total above)`);
      if (me?.reputation_score != null) console.log(`reputation       ${me.reputation_score}/100`);
      if (me?.verified_badge) {
        const b = me.verified_badge;
        console.log(`badge            ${b.earned ? '90-day clean audits (earned)' : `90-day clean audits in ${b.days_to_go} day(s)`}`);
      }
      if (me?.audits) {
        const a = me.audits;
        const lastFailed = a.recent?.find((r: { passed: boolean }) => !r.passed);
        console.log(`audits           ${a.passed} passed, ${a.failed} failed${lastFailed ? ` — last failed ${lastFailed.at}: ${lastFailed.detail}` : ''}`);
      }
      if (report.update) console.log(`update           ${report.update.level === 'required' ? 'REQUIRED' : 'available'}: ${report.update.message}`);
      if (report.fleet) console.log(`fleet            ${report.fleet.id}${report.fleet.refused ? ` — REFUSED: ${report.fleet.refused}` : report.fleet.hold ? ` — no new jobs: ${report.fleet.hold}` : ''}`);
      if (report.shadowbanned) console.log(`standing         SHADOWBANNED — no new jobs: ${report.shadowbanned}`);
      if (gatewayProblem) console.log(`gateway          ${gatewayProblem}`);
    });
}
