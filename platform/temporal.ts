/**
 * Temporal connection settings shared by the platform's processes (gateway,
 * orchestrator, setup) and the runner endpoint's upstream: the address, the
 * namespace, TLS (a private CA, mutual TLS, a server name) and an API key read
 * from a file, so the same code reaches the dev server, a self-hosted cluster
 * behind TLS or Temporal Cloud.
 */
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { envString, flagSetting, optionalSetting, SettingsError } from './env.js';

export interface TemporalTls {
  /** PEM of the CA that signed the server's certificate; the system's roots when null. */
  caFile: string | null;
  /** Mutual TLS: this client's certificate and key (PEM), both or neither. */
  certFile: string | null;
  keyFile: string | null;
  /** The name the server's certificate is checked against, when it differs from the address's host. */
  serverName: string | null;
}

export interface TemporalSettings {
  address: string;
  namespace: string;
  /** Null: plaintext (the dev server, a private network). */
  tls: TemporalTls | null;
  /** A file holding the API key sent as `authorization: Bearer …` (Temporal Cloud); TLS is then on. */
  apiKeyFile: string | null;
}

/**
 * TRD_TEMPORAL_* (the old TEMPORAL_* names still work, with a warning: protocol/src/settings.ts).
 * TLS is on when asked (TRD_TEMPORAL_TLS=1) or when a TLS file or an API key is given.
 */
export function temporalSettings(env: Record<string, string | undefined>): TemporalSettings {
  const file = (name: string) => optionalSetting(env, name);
  const tlsFlag = flagSetting(env, 'TRD_TEMPORAL_TLS');
  const tls: TemporalTls = {
    caFile: file('TRD_TEMPORAL_TLS_CA_FILE'),
    certFile: file('TRD_TEMPORAL_TLS_CERT_FILE'),
    keyFile: file('TRD_TEMPORAL_TLS_KEY_FILE'),
    serverName: file('TRD_TEMPORAL_TLS_SERVER_NAME'),
  };
  if (!tls.certFile !== !tls.keyFile) throw new SettingsError('TRD_TEMPORAL_TLS_CERT_FILE and TRD_TEMPORAL_TLS_KEY_FILE go together (mutual TLS needs both)');
  const apiKeyFile = file('TRD_TEMPORAL_API_KEY_FILE');
  const tlsOn = tlsFlag === true || (tlsFlag === null && (Object.values(tls).some(Boolean) || apiKeyFile !== null));
  if (tlsFlag === false && (Object.values(tls).some(Boolean) || apiKeyFile)) throw new SettingsError('TRD_TEMPORAL_TLS=0 with TLS files or an API key set: remove one or the other');
  return {
    address: envString(env, 'TRD_TEMPORAL_ADDRESS'),
    namespace: envString(env, 'TRD_TEMPORAL_NAMESPACE'),
    tls: tlsOn ? tls : null,
    apiKeyFile,
  };
}

function readSetting(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SettingsError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** The files' contents, read once at start (a rotated certificate takes a restart). */
export function temporalCredentials(s: TemporalSettings): { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string; apiKey?: string } {
  return {
    ca: s.tls?.caFile ? readSetting(s.tls.caFile, 'TRD_TEMPORAL_TLS_CA_FILE') : undefined,
    cert: s.tls?.certFile ? readSetting(s.tls.certFile, 'TRD_TEMPORAL_TLS_CERT_FILE') : undefined,
    key: s.tls?.keyFile ? readSetting(s.tls.keyFile, 'TRD_TEMPORAL_TLS_KEY_FILE') : undefined,
    serverName: s.tls?.serverName ?? undefined,
    apiKey: s.apiKeyFile ? readSetting(s.apiKeyFile, 'TRD_TEMPORAL_API_KEY_FILE').toString('utf8').trim() : undefined,
  };
}

function connectionOptions(s: TemporalSettings): Pick<ConnectionOptions, 'address' | 'tls' | 'apiKey'> {
  const c = temporalCredentials(s);
  return {
    address: s.address,
    tls: s.tls
      ? {
          ...(c.ca ? { serverRootCACertificate: c.ca } : {}),
          ...(c.cert && c.key ? { clientCertPair: { crt: c.cert, key: c.key } } : {}),
          ...(c.serverName ? { serverNameOverride: c.serverName } : {}),
        }
      : undefined,
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
  };
}

/**
 * A failed connection, with what was tried: gRPC says only "Failed to connect before the deadline"
 * when a TLS handshake fails (a CA that did not sign the server's certificate, a wrong name).
 */
function connectFailed(s: TemporalSettings, err: unknown): Error {
  const how = s.tls
    ? `over TLS (CA ${s.tls.caFile ?? "the system's roots"}${s.tls.serverName ? `, server name ${s.tls.serverName}` : ''}${s.tls.certFile ? ', client certificate' : ''}): check that the CA signed the server's certificate for that name`
    : 'in plaintext (TRD_TEMPORAL_TLS_* unset): a server that requires TLS refuses it';
  return new Error(`cannot connect to Temporal at ${s.address} ${how}: ${(err as Error).message}`, { cause: err });
}

/** A client connection (gateway, orchestrator's client, setup). */
export function connectTemporal(s: TemporalSettings): Promise<Connection> {
  return Connection.connect(connectionOptions(s)).catch((err) => Promise.reject(connectFailed(s, err)));
}

/** A worker connection (the orchestrator's worker). */
export function connectTemporalWorker(s: TemporalSettings): Promise<NativeConnection> {
  const o = connectionOptions(s);
  return NativeConnection.connect({ address: o.address, tls: o.tls, ...(o.apiKey ? { apiKey: o.apiKey as string } : {}) }).catch((err) => Promise.reject(connectFailed(s, err)));
}
