/** The PostgreSQL pool size is a per-process setting, and the pool holds no more connections than it says. */
import { expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createDb, dbPoolSettings } from '../../platform/db.js';
import { createDatabase } from '../../devstack/postgres.js';
import { TEMPLATE_DB } from '../../devstack/services.js';
import { serviceEndpoints } from '../support/stack.js';

test('TRD_DB_POOL_MAX bounds the connections one process opens; a bad value says what is wrong', async () => {
  expect(() => dbPoolSettings({ TRD_DB_POOL_MAX: '0' })).toThrow(/TRD_DB_POOL_MAX must be between 1 and 1000/);
  expect(dbPoolSettings({}).max).toBe(10);
  const services = serviceEndpoints();
  const name = `pool_${randomBytes(4).toString('hex')}`;
  await createDatabase(services.pgAdminUrl, name, TEMPLATE_DB);
  const db = createDb(`${services.pgUrlPrefix}${name}`, dbPoolSettings({ TRD_DB_POOL_MAX: '2' }));
  const admin = createDb(services.pgAdminUrl, dbPoolSettings({ TRD_DB_POOL_MAX: '1' }));
  try {
    const started = Date.now();
    const sleeps = Array.from({ length: 6 }, () => db.$queryRaw`SELECT 1 AS one FROM pg_sleep(0.3)`);
    await new Promise((r) => setTimeout(r, 150));
    const [{ n }] = await admin.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = ${name}`;
    await Promise.all(sleeps);
    expect(Number(n)).toBeLessThanOrEqual(2);
    // Six 0.3 s queries through two connections take three rounds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
  } finally {
    await db.$disconnect();
    await admin.$disconnect();
  }
});
