/** The platform's PostgreSQL client (Prisma with the pg driver adapter; no native engine). */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { envInt } from './env.js';

export type Db = PrismaClient;

export interface DbPoolSettings {
  /** Connections this process may hold (pg's pool `max`): replicas × this must fit the server's max_connections. */
  max: number;
  /** An idle connection is closed after this long. */
  idleTimeoutMs: number;
  /** Waiting longer than this for a free connection fails the query. */
  connectionTimeoutMs: number;
}

/** TRD_DB_POOL_MAX, TRD_DB_POOL_IDLE_MS, TRD_DB_CONNECT_TIMEOUT_MS: set per process (each service's own environment). */
export function dbPoolSettings(env: Record<string, string | undefined>): DbPoolSettings {
  return {
    max: envInt(env, 'TRD_DB_POOL_MAX'),
    idleTimeoutMs: envInt(env, 'TRD_DB_POOL_IDLE_MS'),
    connectionTimeoutMs: envInt(env, 'TRD_DB_CONNECT_TIMEOUT_MS'),
  };
}

export function createDb(databaseUrl: string, pool: DbPoolSettings = dbPoolSettings({})): Db {
  return new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, max: pool.max, idleTimeoutMillis: pool.idleTimeoutMs, connectionTimeoutMillis: pool.connectionTimeoutMs }),
    // Prisma's own wait for a transaction's connection is 2 s, shorter than the pool's: under a burst, more
    // transactions than connections (a settlement per finishing job) failed after 2 s although the pool would
    // have served them. One bound for both waits.
    transactionOptions: { maxWait: pool.connectionTimeoutMs },
  });
}
