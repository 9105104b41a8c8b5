/**
 * The owner's settings the daemon honors (stored by the gateway, sent with
 * every heartbeat answer): a manual pause, pause on battery, daily schedule
 * windows in the owner's time zone (a window may cross midnight), and a model
 * whitelist, and a cap on concurrent jobs. Pure, with the clock and the power
 * source passed in.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { OwnerSettingsSchema, contractProblem, type OwnerSettings, type ScheduleWindow } from '@trd/protocol';

export type { OwnerSettings, ScheduleWindow };

export const DEFAULT_OWNER_SETTINGS: OwnerSettings = { paused: false, pause_on_battery: false, schedule: null, models: null, max_concurrent_jobs: null };

/**
 * The settings as the gateway sent them, checked against the contract
 * (protocol/runner-contract.ts) before the daemon applies them: a malformed
 * answer (a proxy's page, a gateway bug) is an Error that says which field,
 * and the daemon keeps the settings it had.
 */
export function parseOwnerSettings(value: unknown): OwnerSettings {
  const parsed = OwnerSettingsSchema.safeParse(value);
  if (!parsed.success) throw new Error(contractProblem(parsed.error, 'owner settings'));
  return parsed.data;
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Day of week and minute of day at `now` in `timezone`. */
function localTime(now: Date, timezone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

export function inWindow(w: ScheduleWindow, now: Date, timezone: string): boolean {
  const { day, minute } = localTime(now, timezone);
  const start = minutes(w.start);
  const end = minutes(w.end);
  const days = w.days ?? [0, 1, 2, 3, 4, 5, 6];
  if (start < end) return days.includes(day) && minute >= start && minute < end;
  // Past midnight: the evening part belongs to the start day, the morning part to the day after.
  return (days.includes(day) && minute >= start) || (days.includes((day + 6) % 7) && minute < end);
}

/** Whether to take new work now, and if not, why (shown in status and heartbeats). */
/** The reason a runner gives outside its owner's schedule windows; there it also unloads its models (scale-to-zero). */
export const OUTSIDE_SCHEDULE = 'outside the schedule';

export function servingDecision(s: OwnerSettings, now: Date, onBattery: boolean): { serve: true } | { serve: false; reason: string } {
  if (s.paused) return { serve: false, reason: 'paused by the owner' };
  if (s.pause_on_battery && onBattery) return { serve: false, reason: 'on battery' };
  if (s.schedule && !s.schedule.windows.some((w) => inWindow(w, now, s.schedule!.timezone))) {
    return { serve: false, reason: OUTSIDE_SCHEDULE };
  }
  return { serve: true };
}

/**
 * Now, for schedule windows. TRD_CLOCK_FILE (a file holding an ISO instant)
 * stands in for the clock in tests, so a window can close while a daemon runs.
 */
export function ownerClock(env = process.env): Date {
  if (env.TRD_CLOCK_FILE) {
    try {
      const at = new Date(readFileSync(env.TRD_CLOCK_FILE, 'utf8').trim());
      if (!Number.isNaN(at.getTime())) return at;
    } catch {
      // An unreadable clock file falls back to the real clock, as a missing power file means mains.
    }
  }
  return new Date();
}

/**
 * On battery? TRD_POWER_SOURCE_FILE (a file saying "ac" or "battery") stands in
 * for the machine's power source in tests; otherwise Linux's power_supply
 * class: on battery when some mains adapter exists and none is online.
 */
export function onBattery(env = process.env): boolean {
  if (env.TRD_POWER_SOURCE_FILE) {
    try {
      return readFileSync(env.TRD_POWER_SOURCE_FILE, 'utf8').trim() === 'battery';
    } catch {
      return false;
    }
  }
  try {
    const base = '/sys/class/power_supply';
    const mains = readdirSync(base).filter((d) => readFileSync(`${base}/${d}/type`, 'utf8').trim() === 'Mains');
    return mains.length > 0 && mains.every((d) => readFileSync(`${base}/${d}/online`, 'utf8').trim() === '0');
  } catch {
    return false;
  }
}
