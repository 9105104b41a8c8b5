/**
 * The gateway alone, on its own database cloned from the migrated template,
 * for tests of routes that never reach Temporal (login, keys, webhooks): no
 * orchestrator to start, so a file pays about a second instead of ten.
 */
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { closeHttpServer, createGatewayApp } from '../../gateway/app.js';
import { gatewaySettings, type GatewaySettings } from '../../gateway/settings.js';
import { createDatabase } from '../../devstack/postgres.js';
import { TEMPLATE_DB } from '../../devstack/services.js';
import { createDb, type Db } from '../../platform/db.js';
import { serviceEndpoints } from './stack.js';

export interface GatewayOnly {
  db: Db;
  port: number;
  baseUrl: string;
  settings: GatewaySettings;
  stop(): Promise<void>;
}

export async function startGatewayOnly(settings: Partial<GatewaySettings> = {}): Promise<GatewayOnly> {
  const services = serviceEndpoints();
  const name = `p_${randomBytes(6).toString('hex')}`;
  await createDatabase(services.pgAdminUrl, name, TEMPLATE_DB);
  const db = createDb(`${services.pgUrlPrefix}${name}`);
  const all: GatewaySettings = { ...gatewaySettings({}), ...settings };
  // Never opened unless a route needs Temporal, which the tests using this do not.
  const temporal = new Client({ connection: Connection.lazy({ address: services.temporalAddress }) });
  // All interfaces: tests act as several clients from 127.0.0.x.
  const server: Server = await new Promise((resolve) => {
    const s = createGatewayApp({ db, temporal, settings: all }).listen(0, '0.0.0.0', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  return {
    db,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    settings: all,
    async stop() {
      await closeHttpServer(server);
      await db.$disconnect();
    },
  };
}
