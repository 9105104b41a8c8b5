/** Flag parsers that reject bad values with a message naming the flag. */
import { InvalidArgumentError } from 'commander';

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

/** A flag's default from the environment, checked by the flag's own parser; the error names the variable. */
export function envDefault<T>(env: NodeJS.ProcessEnv, name: string, fallback: T, parse: (value: string) => T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return parse(raw);
  } catch (err) {
    throw new Error(`${name}=${JSON.stringify(raw.slice(0, 40))}: ${(err as Error).message}`);
  }
}
