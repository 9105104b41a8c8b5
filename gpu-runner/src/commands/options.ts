/** Flag parsers that reject bad values with a message naming the flag. */
import { InvalidArgumentError } from 'commander';
import { flagSetting, rawSetting, setting } from '@trd/protocol/settings';

/** Node's timers hold at most 2^31-1 ms; a longer one fires at once (after a warning), so a huge timeout would act as none. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    }
    return Number(value);
  };
}

/**
 * A flag's default from the environment, checked by the flag's own parser; the error names the
 * variable. Unset: the setting's declared default (protocol/src/settings.ts).
 */
export function envDefault<T>(env: NodeJS.ProcessEnv, name: string, parse: (value: string) => T): T {
  const raw = rawSetting(env, name, RUNNER);
  if (raw === undefined) return setting(name).default as T;
  try {
    return parse(raw);
  } catch (err) {
    throw new Error(`${name}=${JSON.stringify(raw.slice(0, 40))}: ${(err as Error).message}`);
  }
}

/** A text flag's default from the environment (undefined: the flag has none). */
export function envText(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return rawSetting(env, name, RUNNER) ?? (setting(name).default as string | null) ?? undefined;
}

/** A 1/0 (true/false) flag's default from the environment. */
export function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  return flagSetting(env, name, RUNNER) ?? false;
}

/** The runner's settings take the runner's old names only (never the platform's TEMPORAL_*). */
const RUNNER = { reader: 'runner' } as const;
