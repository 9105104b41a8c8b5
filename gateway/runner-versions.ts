/**
 * Update notices: the platform publishes the minimum and the recommended
 * runner versions (settings). A runner below the recommended one is told so
 * with the command to update; one below the minimum gets no new jobs (the
 * gateway records why on the runner's row, the runner endpoint refuses its
 * polls with that message) while what it is running finishes.
 */
import { envString, SettingsError } from '../platform/env.js';

const VERSION = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:-([0-9A-Za-z.]{1,20}))?$/;

export interface RunnerVersionPolicy {
  /** Below it a runner gets no new jobs; null: no minimum. */
  minimum: string | null;
  /** Below it a runner is told to update; null: no recommendation. */
  recommended: string | null;
  /** The update command, `{version}` replaced by the version to install. */
  updateCommand: string;
}

export interface UpdateNotice {
  level: 'required' | 'recommended';
  current: string | null;
  minimum: string | null;
  recommended: string | null;
  command: string;
  message: string;
}

function versionSetting(env: Record<string, string | undefined>, name: string): string | null {
  const v = env[name]?.trim();
  if (!v) return null;
  if (!VERSION.test(v)) throw new SettingsError(`${name} must be a version like 1.2.3 (or 1.2.3-beta.1), got ${JSON.stringify(v)}`);
  return v;
}

export function runnerVersionSettings(env: Record<string, string | undefined>): RunnerVersionPolicy {
  const minimum = versionSetting(env, 'TRD_RUNNER_MIN_VERSION');
  const recommended = versionSetting(env, 'TRD_RUNNER_RECOMMENDED_VERSION');
  if (minimum && recommended && compareVersions(recommended, minimum) < 0) {
    throw new SettingsError(`TRD_RUNNER_RECOMMENDED_VERSION (${recommended}) is below TRD_RUNNER_MIN_VERSION (${minimum})`);
  }
  const updateCommand = envString(env, 'TRD_RUNNER_UPDATE_COMMAND', 'npm install -g trd-worker@{version}');
  if (!updateCommand.includes('{version}')) throw new SettingsError('TRD_RUNNER_UPDATE_COMMAND must contain {version}, e.g. npm install -g trd-worker@{version}');
  return { minimum, recommended, updateCommand };
}

/** Semantic-version order: numbers first; a pre-release comes before its release, pre-releases compare as text. */
export function compareVersions(a: string, b: string): number {
  const pa = VERSION.exec(a);
  const pb = VERSION.exec(b);
  if (!pa || !pb) throw new Error(`not versions: ${a}, ${b}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  if (pa[4] === pb[4]) return 0;
  if (pa[4] === undefined) return 1;
  if (pb[4] === undefined) return -1;
  return pa[4] < pb[4] ? -1 : 1;
}

export const isRunnerVersion = (v: unknown): v is string => typeof v === 'string' && VERSION.test(v);

/**
 * The notice for a runner at `current` (null: a runner too old to say), or null when it is up to date.
 * Below the minimum it is required; below the recommended one it is advised.
 */
export function updateNotice(current: string | null, p: RunnerVersionPolicy): UpdateNotice | null {
  const below = (target: string | null) => target !== null && (current === null || compareVersions(current, target) < 0);
  const running = current ? `trd-worker ${current}` : 'this trd-worker (too old to report its version)';
  if (below(p.minimum)) {
    const target = p.recommended ?? p.minimum!;
    const command = p.updateCommand.replaceAll('{version}', target);
    const message = `${running} is below the minimum version ${p.minimum}: it gets no new jobs until it is updated (jobs it is running finish). Update with: ${command}`;
    return { level: 'required', current, minimum: p.minimum, recommended: p.recommended, command, message };
  }
  if (below(p.recommended)) {
    const command = p.updateCommand.replaceAll('{version}', p.recommended!);
    const message = `trd-worker ${p.recommended} is out (this runner: ${current ?? 'too old to report its version'}); update when convenient with: ${command}`;
    return { level: 'recommended', current, minimum: p.minimum, recommended: p.recommended, command, message };
  }
  return null;
}
