/**
 * `trd-worker settings`: the owner's settings for this runner, as the gateway
 * stores them (the dashboard edits the same ones). The daemon picks a change
 * up with its next heartbeat, without a restart.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readCredentials, type Credentials } from '../credentials.js';
import { gatewayCall } from '../gateway-api.js';
// The schedule module alone: the whole protocol would load the model catalog (and zod) for every --help.
import { formatScheduleWindow, parseScheduleWindow, type ScheduleWindow } from '@trd/protocol/schedule';
import type { OwnerSettings } from '../owner-settings.js';
import { positiveInt } from './options.js';

/** Commander's parser for a repeatable --schedule: each window is added to the ones before. */
export function parseWindow(text: string, previous: ScheduleWindow[] = []): ScheduleWindow[] {
  try {
    return [...previous, parseScheduleWindow(text)];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function onOff(name: string) {
  return (value: string): boolean => {
    if (['on', 'true', 'yes'].includes(value)) return true;
    if (['off', 'false', 'no'].includes(value)) return false;
    throw new InvalidArgumentError(`${name} takes on or off`);
  };
}

async function loggedIn(): Promise<Credentials> {
  const credentials = await readCredentials();
  if (!credentials) throw new Error('not logged in: run `trd-worker login` first (settings are kept by the gateway, per runner)');
  return credentials;
}

function describe(s: OwnerSettings): string[] {
  return [
    `paused              ${s.paused ? 'yes' : 'no'}`,
    `pause on battery    ${s.pause_on_battery ? 'yes' : 'no'}`,
    `schedule            ${s.schedule ? `${s.schedule.windows.map(formatScheduleWindow).join('; ')} (${s.schedule.timezone})` : 'any time'}`,
    `models              ${s.models ? s.models.join(', ') || 'none' : 'all it has'}`,
    `max jobs at once    ${s.max_concurrent_jobs ?? 'as many as the hardware runs'}`,
  ];
}

function print(s: OwnerSettings, json: boolean): void {
  console.log(json ? JSON.stringify(s) : describe(s).join('\n'));
}

export function settingsCommand(): Command {
  const settings = new Command('settings')
    .description("show this runner's settings (pause, battery, schedule, models, max jobs); `settings set` changes them")
    .option('--json', 'one JSON object, for scripts')
    .action(async (o) => {
      const c = await loggedIn();
      print(await gatewayCall(c.gateway_url, '/v1/runners/settings', c.token, { method: 'GET' }), o.json);
    });

  settings
    .command('set')
    .description('change some settings; the running daemon applies them at its next heartbeat')
    .addOption(new Option('--pause', 'take no new jobs until --resume').conflicts('resume'))
    .option('--resume', 'take jobs again after --pause')
    .option('--pause-on-battery <on|off>', 'take no new jobs while on battery', onOff('--pause-on-battery'))
    .option('--schedule <window>', 'serve only in this daily window, HH:MM-HH:MM (may cross midnight), optionally after days: "mon-fri 09:00-17:00"; repeat for more windows', parseWindow)
    .option('--timezone <zone>', "the schedule's IANA time zone (default: this machine's)")
    .option('--no-schedule', 'serve at any hour')
    .option('--models <keys>', 'serve only these catalog models (comma-separated); "all" serves every model it has')
    .option('--max-concurrent-jobs <n|auto>', 'at most this many jobs at once; "auto" leaves it to the hardware', (v: string) => (v === 'auto' ? v : positiveInt('--max-concurrent-jobs', 64)(v)))
    // --json is the parent's option, so it is read from there.
    .action(async (_o, cmd: Command) => {
      const o = cmd.optsWithGlobals();
      const changes: Partial<OwnerSettings> = {};
      if (o.pause) changes.paused = true;
      if (o.resume) changes.paused = false;
      if (o.pauseOnBattery !== undefined) changes.pause_on_battery = o.pauseOnBattery;
      // Commander sets `schedule` to false for --no-schedule, to the windows for --schedule.
      if (o.schedule === false && o.timezone) throw new Error('--no-schedule takes no --timezone');
      if (o.schedule === false) changes.schedule = null;
      else if (Array.isArray(o.schedule)) changes.schedule = { timezone: o.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone, windows: o.schedule };
      else if (o.timezone) throw new Error('--timezone goes with --schedule (give the windows again)');
      if (o.models !== undefined) changes.models = o.models === 'all' ? null : String(o.models).split(',').map((k) => k.trim()).filter(Boolean);
      if (o.maxConcurrentJobs !== undefined) changes.max_concurrent_jobs = o.maxConcurrentJobs === 'auto' ? null : o.maxConcurrentJobs;
      if (Object.keys(changes).length === 0) throw new Error('nothing to change: see `trd-worker settings set --help`');
      const c = await loggedIn();
      print(await gatewayCall(c.gateway_url, '/v1/runners/settings', c.token, { method: 'PATCH', body: changes }), o.json);
    });
  return settings;
}
