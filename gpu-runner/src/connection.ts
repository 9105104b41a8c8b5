/**
 * How the runner reaches Temporal. Address, namespace, TLS and a bearer token
 * (sent as gRPC metadata) are all settings, so an authorizing proxy can stand
 * between runners and Temporal without a code change.
 */
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { readFile } from 'node:fs/promises';

export interface ConnectionSettings {
  address: string;
  namespace: string;
  tls: boolean;
  tlsCaFile?: string;
  tlsServerName?: string;
  token?: string;
}

export async function connectionOptions(s: ConnectionSettings): Promise<NativeConnectionOptions> {
  const options: NativeConnectionOptions = { address: s.address };
  if (s.tls || s.tlsCaFile) {
    options.tls = {
      serverNameOverride: s.tlsServerName,
      serverRootCACertificate: s.tlsCaFile ? await readFile(s.tlsCaFile) : undefined,
    };
  }
  if (s.token) options.metadata = { authorization: `Bearer ${s.token}` };
  return options;
}

export async function connect(s: ConnectionSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(await connectionOptions(s));
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${s.address} (${(err as Error).message}); check --temporal-address and that the server is up`);
  }
}
