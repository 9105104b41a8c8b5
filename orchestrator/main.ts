/** `tsx orchestrator/main.ts`: runs the orchestrator worker until SIGINT/SIGTERM. */
import { Client } from '@temporalio/client';
import { dispatchSettings } from '../dispatch/settings.js';
import { createDb, dbPoolSettings } from '../platform/db.js';
import { envString } from '../platform/env.js';
import { loadSigningKeys, signingKeyLifecycleSettings } from '../platform/signing-key.js';
import { payloadKeysFromEnv, platformDataConverter } from '../platform/payload-encryption.js';
import { receiptSettings } from '../receipts/settings.js';
import { payoutSettings } from '../economy/payout-settings.js';
import { reputationSettings } from '../economy/reputation.js';
import { auditSettings } from '../audits/settings.js';
import { cascadeFromEnv } from '../cascade/config.js';
import { connectTemporal, connectTemporalWorker, temporalSettings } from '../platform/temporal.js';
import { createOrchestratorWorker } from './worker.js';

const env = process.env;
const temporal = temporalSettings(env);
const db = createDb(envString(env, 'DATABASE_URL'), dbPoolSettings(env));
const signingKeys = await loadSigningKeys(env);
const payloadKeys = payloadKeysFromEnv(env);
const connection = await connectTemporalWorker(temporal);
const clientConnection = await connectTemporal(temporal);
const worker = await createOrchestratorWorker({
  connection,
  namespace: temporal.namespace,
  client: new Client({ connection: clientConnection, namespace: temporal.namespace, dataConverter: platformDataConverter(payloadKeys) }),
  dispatch: dispatchSettings(env),
  db,
  signingKeys,
  signingKeyLifecycle: signingKeyLifecycleSettings(env),
  payloadKeys,
  receipts: receiptSettings(env),
  payouts: payoutSettings(env),
  reputation: reputationSettings(env),
  audits: auditSettings(env),
  cascade: cascadeFromEnv(env),
  workflowBundlePath: env.TRD_WORKFLOW_BUNDLE || undefined,
});
console.log(`orchestrator: polling "orchestrator" on ${temporal.address}/${temporal.namespace}, holding signing keys ${signingKeys.map((k) => k.kid).join(', ')}`);
// Worker.run() shuts down gracefully on SIGINT/SIGTERM by default.
await worker.run();
await connection.close();
await clientConnection.close();
await db.$disconnect();
