/** `tsx gateway/main.ts`: serves the gateway until SIGINT/SIGTERM. */
import { Client } from '@temporalio/client';
import { createDb, dbPoolSettings } from '../platform/db.js';
import { envString } from '../platform/env.js';
import { payloadKeysFromEnv, platformDataConverter } from '../platform/payload-encryption.js';
import { connectTemporal, temporalSettings } from '../platform/temporal.js';
import { applyServerTimeouts, closeHttpServer, createGatewayApp } from './app.js';
import { gatewaySettings } from './settings.js';
import { JobStreams } from './job-streams.js';

const env = process.env;
const settings = gatewaySettings(env);
const temporal = temporalSettings(env);
const db = createDb(envString(env, 'DATABASE_URL'), dbPoolSettings(env));
const connection = await connectTemporal(temporal);
const payloadKeys = payloadKeysFromEnv(env);
const client = new Client({ connection, namespace: temporal.namespace, dataConverter: platformDataConverter(payloadKeys) });
const databaseUrl = envString(env, 'DATABASE_URL');
// Pushes reach the replica that streams through PostgreSQL LISTEN/NOTIFY (gateway/job-streams.ts).
const streams = new JobStreams(db, { databaseUrl });
const app = createGatewayApp({ db, temporal: client, settings, streams, payloadKeys });
const server = app.listen(settings.port, settings.host, () => {
  console.log(`gateway: listening on http://${settings.host}:${settings.port}`);
});

applyServerTimeouts(server, settings.http);

async function shutdown(): Promise<void> {
  await closeHttpServer(server, { app, drainMs: settings.http.drainMs });
  await streams.close();
  await connection.close();
  await db.$disconnect();
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
