/** The committed migrations are applied for real: every folder has a finished row, every table exists. */
import { expect, test } from '@jest/globals';
import pg from 'pg';
import { migrationNames } from '../../devstack/migrate.js';
import { TEMPLATE_DB } from '../../devstack/services.js';
import { serviceEndpoints } from '../support/stack.js';

test('the template database has every committed migration and the schema it creates', async () => {
  const client = new pg.Client({ connectionString: `${serviceEndpoints().pgUrlPrefix}${TEMPLATE_DB}` });
  await client.connect();
  try {
    const applied = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1');
    expect(applied.rows.map((r) => r.migration_name)).toEqual(migrationNames());
    expect(migrationNames().length).toBeGreaterThan(0);
    const tables = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['api_keys', 'customers', 'jobs', 'receipts', 'signing_keys']),
    );
  } finally {
    await client.end();
  }
});
