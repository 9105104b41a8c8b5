/** Temporal connection settings (platform/temporal.ts) shared by every platform client and the runner endpoint's upstream. */
import { expect, jest, test } from '@jest/globals';
import { rawSetting } from '@trd/protocol/settings';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { temporalCredentials, temporalSettings } from '../../platform/temporal.js';
import { runnerProxySettings } from '../../runner-proxy/settings.js';

test('TLS and an API key from files, for every Temporal client and the endpoint upstream; bad combinations say why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trd-temporal-'));
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  writeFileSync(join(dir, 'api-key'), '  secret-key\n');
  expect(temporalSettings({})).toEqual({ address: '127.0.0.1:7233', namespace: 'default', tls: null, apiKeyFile: null });
  const env = { TRD_TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233', TRD_TEMPORAL_NAMESPACE: 'ns', TRD_TEMPORAL_TLS_CA_FILE: join(dir, 'ca.pem'), TRD_TEMPORAL_TLS_SERVER_NAME: 'temporal.internal', TRD_TEMPORAL_API_KEY_FILE: join(dir, 'api-key') };
  const s = temporalSettings(env);
  expect(s.tls).toEqual({ caFile: join(dir, 'ca.pem'), certFile: null, keyFile: null, serverName: 'temporal.internal' });
  expect(temporalCredentials(s)).toMatchObject({ ca: Buffer.from('CA'), serverName: 'temporal.internal', apiKey: 'secret-key' });
  // An API key alone turns TLS on (with the system's roots).
  expect(temporalSettings({ TRD_TEMPORAL_API_KEY_FILE: join(dir, 'api-key') }).tls).not.toBeNull();
  const proxy = runnerProxySettings({ ...env, TRD_RUNNER_ENDPOINT_TLS_KEY_FILE: 'k', TRD_RUNNER_ENDPOINT_TLS_CERT_FILE: 'c' });
  expect(proxy).toMatchObject({ upstream: 'ns.tmprl.cloud:7233', namespace: 'ns', upstreamApiKey: 'secret-key', upstreamTls: { ca: Buffer.from('CA'), serverName: 'temporal.internal' } });
  expect(proxy.upstreamPing).toEqual({ intervalMs: 10_000, timeoutMs: 5000 });
  expect(() => temporalSettings({ TRD_TEMPORAL_TLS_CERT_FILE: 'c.pem' })).toThrow(/go together/);
  expect(() => temporalSettings({ TRD_TEMPORAL_TLS: '0', TRD_TEMPORAL_TLS_CA_FILE: 'ca.pem' })).toThrow(/TRD_TEMPORAL_TLS=0 with TLS files/);
  expect(() => temporalSettings({ TRD_TEMPORAL_TLS: 'yes' })).toThrow(/TRD_TEMPORAL_TLS is 1/);
  expect(() => temporalCredentials(temporalSettings({ TRD_TEMPORAL_TLS_CA_FILE: join(dir, 'missing.pem') }))).toThrow(/cannot read TRD_TEMPORAL_TLS_CA_FILE/);
});

test('the old TEMPORAL_* names still work, with one warning each; the runner never reads them', () => {
  const warnings: string[] = [];
  const warn = jest.spyOn(console, 'warn').mockImplementation((line: string) => void warnings.push(line));
  try {
    const old = { TEMPORAL_ADDRESS: 'old.example:7233', TEMPORAL_NAMESPACE: 'old-ns' };
    expect(temporalSettings(old)).toMatchObject({ address: 'old.example:7233', namespace: 'old-ns' });
    temporalSettings(old);
    // The new name wins over the old one.
    expect(temporalSettings({ ...old, TRD_TEMPORAL_ADDRESS: 'new.example:7233' }).address).toBe('new.example:7233');
    expect(warnings.filter((w) => w.startsWith('TEMPORAL_ADDRESS is deprecated: set TRD_TEMPORAL_ADDRESS'))).toHaveLength(1);
    expect(rawSetting({ TEMPORAL_ADDRESS: 'x:1' }, 'TRD_TEMPORAL_ADDRESS', { reader: 'runner' })).toBeUndefined();
    expect(rawSetting({ TRD_TEMPORAL_TLS_CA: 'ca.pem' }, 'TRD_TEMPORAL_TLS_CA_FILE', { reader: 'runner' })).toBe('ca.pem');
  } finally {
    warn.mockRestore();
  }
});
