/**
 * The one-shot setup command (orchestrator/setup.ts), run as an operator
 * would on an empty database: migrations applied and checked, search
 * attributes and schedules written, the first API key printed once; a second
 * run changes nothing and prints no key. Orchestrators no longer write any of it.
 */
import { expect, test } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { findApiKey } from '../../gateway/api-keys.js';
import { createDatabase } from '../../devstack/postgres.js';
import { migrationNames } from '../../devstack/migrate.js';
import { startTsProcess } from '../../devstack/processes.js';
import { createDb } from '../../platform/db.js';
import { newPayloadKey, payloadKeysFromEnv, platformDataConverter } from '../../platform/payload-encryption.js';
import { PAYOUT_SCHEDULE_ID, REPUTATION_SCHEDULE_ID } from '../../platform/workflow-api.js';
import { serviceEndpoints, testNamespace } from '../support/stack.js';

async function runSetup(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const lines: string[] = [];
  const p = startTsProcess('setup', 'orchestrator/setup.ts', { env, echo: (l) => lines.push(l) });
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', (c) => resolve(c)));
  return { code, lines };
}

test('setup migrates with the check, writes schedules and search attributes, and prints the first API key once', async () => {
  const services = serviceEndpoints();
  const name = `setup_${randomBytes(4).toString('hex')}`;
  await createDatabase(services.pgAdminUrl, name);
  const namespace = testNamespace();
  const payloadKey = newPayloadKey('k1');
  const env = {
    DATABASE_URL: `${services.pgUrlPrefix}${name}`,
    TRD_TEMPORAL_ADDRESS: services.temporalAddress,
    TRD_TEMPORAL_NAMESPACE: namespace,
    TRD_PAYLOAD_KEYS: payloadKey,
    TRD_PAYOUT_INTERVAL_MS: '3600000',
    CHECKPOINT_DISABLE: '1',
  };
  const first = await runSetup(env);
  expect(first.code).toBe(0);
  expect(first.lines.join('\n')).toContain(`${migrationNames().length} migration(s) applied`);
  const keyLine = first.lines.find((l) => /first API key/.test(l))!;
  const key = /(trd_sk_\S+)/.exec(keyLine)![1];
  const db = createDb(env.DATABASE_URL);
  const connection = await Connection.connect({ address: services.temporalAddress });
  try {
    expect(await findApiKey(db, key)).not.toBeNull();
    // The schedules' workflow arguments are sealed like every payload.
    const client = new Client({ connection, namespace, dataConverter: platformDataConverter(payloadKeysFromEnv({ TRD_PAYLOAD_KEYS: payloadKey })) });
    const payout = await client.schedule.getHandle(PAYOUT_SCHEDULE_ID).describe();
    expect(payout.spec.intervals?.[0]?.every).toBe(3_600_000);
    await client.schedule.getHandle(REPUTATION_SCHEDULE_ID).describe();
    const attrs = await connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(attrs.customAttributes ?? {}).length).toBeGreaterThan(0);

    // Again: nothing new, no key printed, the schedule brought to the new interval.
    const second = await runSetup({ ...env, TRD_PAYOUT_INTERVAL_MS: '7200000' });
    expect(second.code).toBe(0);
    expect(second.lines.join('\n')).not.toMatch(/trd_sk_/);
    expect(await db.apiKey.count()).toBe(1);
    expect((await client.schedule.getHandle(PAYOUT_SCHEDULE_ID).describe()).spec.intervals?.[0]?.every).toBe(7_200_000);

    // A setting it cannot use fails the run with the reason, exit code 1, before anything is written.
    const bad = await runSetup({ ...env, TRD_PAYLOAD_KEYS: 'k1:short' });
    expect(bad.code).toBe(1);
    expect(bad.lines.join('\n')).toMatch(/setup: FAILED: .*AES-256 needs 32/);
    expect(bad.lines.join('\n')).not.toMatch(/migrated/);
  } finally {
    await connection.close();
    await db.$disconnect();
  }
}, 120_000);
