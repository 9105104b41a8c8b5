/** `tsx runner-proxy/main.ts`: the runner endpoint, until SIGINT/SIGTERM. */
import { readFile } from 'node:fs/promises';
import { createDb, dbPoolSettings } from '../platform/db.js';
import { envString } from '../platform/env.js';
import { payloadKeysFromEnv } from '../platform/payload-encryption.js';
import { startRunnerProxy } from './proxy.js';
import { runnerProxySettings } from './settings.js';

const env = process.env;
const { tlsKeyFile, tlsCertFile, ...settings } = runnerProxySettings(env);
const db = createDb(envString(env, 'DATABASE_URL'), dbPoolSettings(env));
const proxy = await startRunnerProxy({
  db,
  keys: payloadKeysFromEnv(env),
  settings: { ...settings, tls: { key: await readFile(tlsKeyFile), cert: await readFile(tlsCertFile) } },
  log: (line) => console.log(`runner-endpoint: ${line}`),
});

async function shutdown(): Promise<void> {
  await proxy.close();
  await db.$disconnect();
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
