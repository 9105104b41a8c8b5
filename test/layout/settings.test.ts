/**
 * The settings registry (protocol/src/settings.ts) is the one list: every TRD_* name the sources
 * read is declared there, the docs table is generated from it, and the devstack's environment for a
 * process gives that process back the settings it was made from. Pure: reads files, under a second.
 */
import { expect, test } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTINGS, deprecatedSettingNames, intSetting, pathSetting, setting, settingsEnv } from '@trd/protocol/settings';
import { SETTINGS_DOC, withCurrentTable } from '../../scripts/settings-doc.js';
import { gatewaySettings } from '../../gateway/settings.js';
import { payoutSettings } from '../../economy/payout-settings.js';
import { receiptSettings } from '../../receipts/settings.js';
import { reputationSettings, reputationSettingsEnv } from '../../economy/reputation.js';
import { dispatchSettings } from '../../dispatch/settings.js';
import { localGatewaySettings, settingsEnv as gatewayProcessEnv } from '../../devstack/platform.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SKIP = new Set(['node_modules', '.git', 'generated', 'test-results', '.trd', 'dist', 'coverage', 'artifacts', 'cache']);
const CODE = /\.(ts|tsx|js|cjs|mjs|sh|ya?ml)$|^(Dockerfile|run)$/;
/** Identifiers that look like settings and are not ours: a version constant, and the Temporal UI image's own variables. */
const NOT_SETTINGS = new Set(['TEMPORAL_SERVER_VERSION', 'TEMPORAL_CODEC_ENDPOINT', 'TEMPORAL_CODEC_INCLUDE_CREDENTIALS', 'TEMPORAL_CODEC_DEFAULT_ERROR_MESSAGE']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return CODE.test(name) ? [path] : [];
  });
}

test('every TRD_* (and TEMPORAL_*) name a source, script or compose file reads is declared', () => {
  const declared = new Set([...SETTINGS.map((s) => s.name), ...deprecatedSettingNames().keys(), ...NOT_SETTINGS]);
  const undeclared: string[] = [];
  for (const file of sourceFiles(ROOT)) {
    // A name cut at a prefix (TRD_RUNNER_ENDPOINT_*) ends with an underscore and is prose, not a read.
    for (const [name] of readFileSync(file, 'utf8').matchAll(/\b(?:TRD|TEMPORAL)_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g)) {
      if (!declared.has(name)) undeclared.push(`${relative(ROOT, file)}: ${name}`);
    }
  }
  expect([...new Set(undeclared)]).toEqual([]);
});

/** A read of the environment by name, outside the registry's parsers (`env.NAME`, `process.env['NAME']`). */
const RAW_READ = /\benv(?:\.|\[['"])((?:TRD|TEMPORAL)_[A-Z0-9_]*[A-Z0-9])\b/g;

test('a setting with a declared default is read through the registry, so its default is written once', () => {
  const withDefault = new Set(SETTINGS.filter((s) => s.default !== null).map((s) => s.name));
  const raw: string[] = [];
  for (const file of sourceFiles(ROOT)) {
    const path = relative(ROOT, file);
    if (!/\.(ts|tsx|js|mjs|cjs)$/.test(path) || path.startsWith('test/') || path === 'protocol/src/settings.ts') continue;
    // Hardhat require()s its config outside our module graph; devstack/evm.ts always passes the value it reads.
    if (path === 'devstack/hardhat.config.cjs') continue;
    for (const [, name] of readFileSync(file, 'utf8').matchAll(RAW_READ)) if (withDefault.has(name!)) raw.push(`${path}: ${name}`);
  }
  expect(raw).toEqual([]);
  // The check sees both spellings.
  const name = ['TRD', 'GATEWAY_HOST'].join('_');
  expect([...`env.${name} || process.env['${name}']`.matchAll(RAW_READ)].map((m) => m[1])).toEqual([name, name]);
});

test("a path setting's default goes under the home or base given; a set value is taken as it is", () => {
  expect(pathSetting({}, 'TRD_CACHE_DIR', { home: '/home/o/' })).toBe('/home/o/.cache/trd');
  expect(pathSetting({}, 'TRD_STATE_DIR', { home: '/home/o', base: '/repo/' })).toBe('/repo/.trd');
  expect(pathSetting({ TRD_CACHE_DIR: ' rel/cache ' }, 'TRD_CACHE_DIR', { home: '/home/o' })).toBe('rel/cache');
  expect(() => pathSetting({}, 'TRD_GATEWAY_HOST', { home: '/h' })).toThrow(/declared string, not path/);
});

test('the check finds an undeclared name, and reading one fails at run time too', () => {
  // Spelled in two parts, so this file does not hold the name it tests with.
  const name = ['TRD', 'NOT_A_SETTING'].join('_');
  expect(`env.${name}`.match(/\b(?:TRD|TEMPORAL)_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g)).toEqual([name]);
  expect(() => setting(name)).toThrow(new RegExp(`${name} is not a declared setting`));
  expect(() => intSetting({}, name)).toThrow(/not a declared setting/);
});

test('each setting is declared once, with a default inside its bounds and a line of doc', () => {
  const names = SETTINGS.map((s) => s.name);
  expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  for (const s of SETTINGS) {
    expect({ name: s.name, doc: s.doc.length > 5 && !s.doc.includes('\n') }).toEqual({ name: s.name, doc: true });
    if (s.type === 'int' && typeof s.default === 'number') {
      expect({ name: s.name, inBounds: s.default >= (s.min ?? 0) && s.default <= (s.max ?? Number.MAX_SAFE_INTEGER) }).toEqual({ name: s.name, inBounds: true });
      // The parser gives the declared default when unset and refuses a value out of bounds, naming the variable.
      expect(intSetting({}, s.name)).toBe(s.default);
      if (s.max !== undefined) expect(() => intSetting({ [s.name]: String(s.max! + 1) }, s.name)).toThrow(new RegExp(`${s.name} must be between`));
    }
  }
});

test('docs/settings.md holds the table generated from the declarations (npx tsx scripts/settings-doc.ts)', () => {
  const doc = readFileSync(SETTINGS_DOC, 'utf8');
  expect(doc).toBe(withCurrentTable(doc));
});

test('the environment the devstack gives a gateway, orchestrator or runner endpoint parses back to the same settings', () => {
  // Every declared whole number at a gateway field moved off its default (within bounds), so a name or path that disagrees shows.
  const moved: Record<string, string> = {};
  for (const s of SETTINGS) {
    if (s.type === 'int' && s.at && typeof s.default === 'number') moved[s.name] = String(Math.min(s.default + 7, s.max ?? Number.MAX_SAFE_INTEGER));
  }
  const smtp = { TRD_SMTP_HOST: 'mail.example', TRD_SMTP_FROM: 'sign-in@example.com', TRD_RUNNER_MIN_VERSION: '0.1.0', TRD_RUNNER_RECOMMENDED_VERSION: '0.2.0', TRD_PUBLIC_URL: 'https://api.example.com', TRD_TRUST_PROXY: '1' };
  const gateway = gatewaySettings({ ...moved, ...smtp });
  const env = gatewayProcessEnv(localGatewaySettings(gateway), 8123);
  const back = gatewaySettings(env);
  expect({ ...back, port: gateway.port, host: gateway.host, http: { ...back.http, drainMs: gateway.http.drainMs } }).toEqual({ ...gateway, http: { ...gateway.http, drainMs: gateway.http.drainMs } });
  expect(env).toMatchObject({ TRD_GATEWAY_PORT: '8123', TRD_JOB_DEADLINE_MS: moved.TRD_JOB_DEADLINE_MS, TRD_SMTP_HOST: 'mail.example' });
  const payouts = payoutSettings(moved);
  expect(payoutSettings(settingsEnv('payouts', payouts))).toEqual(payouts);
  const receipts = receiptSettings({ ...moved, TRD_LIGHTHOUSE_API_KEY: 'k' });
  expect(receiptSettings(settingsEnv('receipts', receipts))).toEqual(receipts);
  const reputation = reputationSettings(moved);
  expect(reputation.policy.verifiedMinJobs).toBe(Number(moved.TRD_VERIFIED_MIN_JOBS));
  expect(reputationSettings(reputationSettingsEnv(reputation))).toEqual(reputation);
  const dispatch = dispatchSettings(moved);
  expect(dispatchSettings(settingsEnv('gateway.dispatch', dispatch))).toEqual(dispatch);
  // Unset stays unset: no key for a null or false value.
  expect(settingsEnv('gateway', gatewaySettings({}))).not.toHaveProperty('TRD_PUBLIC_URL');
  expect(settingsEnv('gateway', gatewaySettings({}))).not.toHaveProperty('TRD_TRUST_PROXY');
});
