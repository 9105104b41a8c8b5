/**
 * The owner's schedule windows as people write them: "22:00-06:00",
 * "mon-fri 09:00-17:00", "sat,sun 10:00-14:00". One parser for the CLI and
 * the dashboard; the gateway validates the result like any other settings.
 */
export interface ScheduleWindow {
  /** 0 = Sunday … 6 = Saturday; every day when absent. */
  days?: number[];
  /** "HH:MM", 24 h; a window whose end is not after its start runs past midnight. */
  start: string;
  end: string;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function dayIndex(name: string): number {
  const i = DAYS.indexOf(name.slice(0, 3).toLowerCase());
  if (i < 0) throw new Error(`"${name}" is not a day (mon, tue, … sun)`);
  return i;
}

export function parseScheduleWindow(text: string): ScheduleWindow {
  const m = /^(?:([A-Za-z,-]+)\s+)?(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a window: write HH:MM-HH:MM, optionally after days (e.g. "mon-fri 09:00-17:00")`);
  const pad = (t: string) => t.padStart(5, '0');
  const window: ScheduleWindow = { start: pad(m[2]!), end: pad(m[3]!) };
  for (const t of [window.start, window.end]) if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(t)) throw new Error(`"${t}" is not a time of day: write HH:MM from 00:00 to 23:59`);
  if (window.start === window.end) throw new Error(`"${text}" starts and ends at ${window.start}: a window needs two different times`);
  if (m[1]) {
    const days = new Set<number>();
    for (const part of m[1].split(',')) {
      const [from, to] = part.split('-');
      if (to === undefined) days.add(dayIndex(from!));
      else
        for (let d = dayIndex(from!); ; d = (d + 1) % 7) {
          days.add(d);
          if (d === dayIndex(to)) break;
        }
    }
    window.days = [...days].sort((a, b) => a - b);
  }
  return window;
}

export function formatScheduleWindow(w: ScheduleWindow): string {
  return `${w.days ? `${w.days.map((d) => DAYS[d]).join(',')} ` : ''}${w.start}-${w.end}`;
}
