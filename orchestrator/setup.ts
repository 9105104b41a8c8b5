/**
 * `node --import tsx orchestrator/setup.ts`: the platform's one-shot setup,
 * run once per deployment (and again on each upgrade) before the services
 * start, never by them:
 *  1. applies the committed PostgreSQL migrations and checks that every one
 *     has a finished row (Prisma's CLI can exit 0 having done nothing);
 *  2. registers the search attributes and writes the Schedules at the
 *     configured intervals (payout settlement, reputation sweep, and the
 *     warm-pool credit while TRD_WARM_POOL_TARGET is set);
 *  3. when the database holds no API key yet, creates the first organization
 *     and prints its API key, once.
 * Idempotent: a second run changes nothing and prints no key.
 */
import { Client } from '@temporalio/client';
import { createApiKey, createCustomer } from '../gateway/api-keys.js';
import { migrateDatabase } from '../devstack/migrate.js';
import { createDb, dbPoolSettings } from '../platform/db.js';
import { envString } from '../platform/env.js';
import { payloadKeysFromEnv, platformDataConverter } from '../platform/payload-encryption.js';
import { connectTemporal, temporalSettings } from '../platform/temporal.js';
import { payoutSettings } from '../economy/payout-settings.js';
import { reputationSettings } from '../economy/reputation.js';
import { warmPoolSettings } from '../economy/warm-pool.js';
import { ensureTemporalSetup } from './schedules.js';

const env = process.env;
const say = (line: string) => console.log(`setup: ${line}`);

try {
  // Every setting is read before anything is written: a bad one changes nothing.
  const databaseUrl = envString(env, 'DATABASE_URL');
  const temporal = temporalSettings(env);
  const dataConverter = platformDataConverter(payloadKeysFromEnv(env));
  const schedules = { payouts: payoutSettings(env), reputation: reputationSettings(env), warmPool: warmPoolSettings(env) };
  const { applied } = await migrateDatabase(databaseUrl);
  say(`database migrated and checked: ${applied.length} migration(s) applied`);

  const connection = await connectTemporal(temporal);
  try {
    const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
    await ensureTemporalSetup(client, temporal.namespace, schedules.payouts, schedules.reputation, schedules.warmPool);
    say(`search attributes and schedules written in ${temporal.address}/${temporal.namespace}`);
  } finally {
    await connection.close();
  }

  const db = createDb(databaseUrl, dbPoolSettings({ ...env, TRD_DB_POOL_MAX: '1' }));
  try {
    // One transaction-free check is enough: setup runs once, before the gateways serve.
    if ((await db.apiKey.count()) === 0) {
      const name = envString(env, 'TRD_SETUP_ORG_NAME');
      const key = await createApiKey(db, await createCustomer(db, name), 'first key (setup)');
      say(`first API key, of organization "${name}" (shown once; store it now): ${key}`);
    } else {
      say('API keys exist already: none printed');
    }
  } finally {
    await db.$disconnect();
  }
  say('done');
} catch (err) {
  console.error(`setup: FAILED: ${(err as Error).message}`);
  process.exitCode = 1;
}
