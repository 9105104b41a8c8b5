/**
 * Reading settings from the environment with errors that name the variable
 * and say what a valid value looks like. Every time bound is a setting, so
 * tests run with short ones.
 */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type Env = Record<string, string | undefined>;

export function envString(env: Env, name: string, fallback?: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback === undefined) throw new SettingsError(`${name} is not set`);
    return fallback;
  }
  return raw;
}

export function envInt(env: Env, name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new SettingsError(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new SettingsError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}
