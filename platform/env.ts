/**
 * Reading settings from the environment with errors that name the variable and say what a
 * valid value looks like. Every setting is declared once, with its default and bounds, in
 * protocol/src/settings.ts; these read it. Every time bound is a setting, so tests run with
 * short ones.
 */
import { homedir } from 'node:os';
import { intSetting, pathSetting, stringSetting } from '@trd/protocol/settings';

export { SettingsError, optionalSetting, flagSetting, rawSetting, settingsEnv } from '@trd/protocol/settings';

type Env = Record<string, string | undefined>;

/** A declared text setting; `fallback` only for a default derived at run time. */
export function envString(env: Env, name: string, fallback?: string): string {
  return stringSetting(env, name, fallback);
}

/** A declared whole-number setting, its default and bounds from the declaration; `fallback` only for a default derived at run time. */
export function envInt(env: Env, name: string, fallback?: number): number {
  return intSetting(env, name, fallback);
}

/** A declared folder or file setting; its default's `~/` is this user's home, a relative one is under `base`. */
export function envPath(env: Env, name: string, base?: string): string {
  return pathSetting(env, name, { home: homedir(), base });
}
