/**
 * The orchestrator process: hosts the workflows and the trusted activities
 * (database, receipt signing and pinning, routing advice) on the `orchestrator` queue.
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { CATALOG_DATA_MODELS, ORCHESTRATOR_QUEUE, signCatalog } from '@trd/protocol';
import { createAgentReviewActivities } from '../activities/agent-review-activities.js';
import { createDispatchActivities } from '../activities/dispatch-activities.js';
import { createFederationActivities } from '../activities/federation-activities.js';
import { createPlatformActivities } from '../activities/platform-activities.js';
import { createReceiptActivities } from '../activities/receipt-activities.js';
import { preloadLighthouseSdk } from '../receipts/lighthouse.js';
import { createPayoutActivities } from '../activities/payout-activities.js';
import { createUsdcPayoutActivities } from '../activities/usdc-payout-activities.js';
import { createReputationTokenActivities } from '../activities/reputation-token-activities.js';
import { createUpstreamActivities } from '../activities/upstream-activities.js';
import { createWarmPoolActivities } from '../activities/warm-pool-activities.js';
import { createDecisionActivities } from '../activities/decision-activities.js';
import type { CascadeConfig } from '../cascade/config.js';
import type { PayoutSettings } from '../economy/payout-settings.js';
import { stripeClient } from '../economy/stripe.js';
import { createReputation } from '../activities/reputation-activities.js';
import { createAudits } from '../activities/audit-activities.js';
import { samplingKey } from '../audits/sampling.js';
import type { AuditSettings } from '../audits/settings.js';
import type { ReputationSettings } from '../economy/reputation.js';
import type { DispatchSettings } from '../dispatch/settings.js';
import type { Db } from '../platform/db.js';
import type { ReceiptSettings } from '../receipts/settings.js';
import type { SigningKey } from '../platform/signing-key.js';
import { platformDataConverter, type PayloadKeys } from '../platform/payload-encryption.js';
import { publishSigningKeys, scheduledSigner, type SigningKeyLifecycle } from './signing-keys.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface OrchestratorDeps {
  connection: NativeConnection;
  namespace: string;
  /** For routing advice: task-queue pollers and running jobs' progress. */
  client: Client;
  dispatch: DispatchSettings;
  db: Db;
  /** The receipt-signing keys it holds, oldest first; the shared lifecycle says which one signs (signing-keys.ts). */
  signingKeys: SigningKey[];
  signingKeyLifecycle: SigningKeyLifecycle;
  /** Temporal payloads are sealed with these (platform/payload-encryption.ts); the client given must use them too. Null: not sealed (a benchmark's baseline). */
  payloadKeys: PayloadKeys | null;
  receipts: ReceiptSettings;
  payouts: PayoutSettings;
  reputation: ReputationSettings;
  audits: AuditSettings;
  /** The upstream tiers it may send jobs to (cascade/config.ts): their base URLs, API keys and concurrency limits. */
  cascade: CascadeConfig;
  /** Now, for reputation (tests move it days ahead); the real clock by default. */
  clock?: () => Date;
  /** A prebuilt bundle (production); otherwise workflows are bundled from source at start. */
  workflowBundlePath?: string;
}

/**
 * Signs this build's model catalog with a key and stores it, once per
 * catalog and key (orchestrators side by side write the same row), so the
 * gateway can serve it to runners without holding the key. Every key an
 * orchestrator holds signs it, so the catalog is there for whichever is active.
 */
export async function registerSignedCatalog(db: Db, key: SigningKey): Promise<void> {
  const doc = await signCatalog(CATALOG_DATA_MODELS, key.secretKey, new Date());
  await db.signedCatalog.upsert({
    where: { catalogSha256_kid: { catalogSha256: doc.claims.catalog_sha256, kid: key.kid } },
    create: { catalogSha256: doc.claims.catalog_sha256, kid: key.kid, document: doc as unknown as object },
    update: {},
  });
}

export async function createOrchestratorWorker(deps: OrchestratorDeps): Promise<Worker> {
  const schedule = await publishSigningKeys(deps.db, deps.signingKeys, deps.signingKeyLifecycle.publishMs);
  for (const key of deps.signingKeys) await registerSignedCatalog(deps.db, key);
  let worker: Worker | null = null;
  // Its workflows' local activities would retry here forever: stop, so other orchestrators take them.
  const signer = scheduledSigner(deps.db, deps.signingKeys, deps.signingKeyLifecycle, schedule, (message) => {
    if (worker?.getState() !== 'RUNNING') return;
    console.error(`orchestrator: every signing key it holds is retired; stopping (${message})`);
    worker.shutdown();
  });
  const workflowSource: Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> = deps.workflowBundlePath
    ? { workflowBundle: { codePath: deps.workflowBundlePath } }
    : { workflowsPath: WORKFLOWS_PATH };
  const reputation = createReputation({
    db: deps.db,
    policy: deps.reputation.policy,
    dispatch: deps.dispatch,
    clock: deps.clock ?? (() => new Date()),
    running: () => worker?.getState() === 'RUNNING',
  });
  const audits = createAudits({
    db: deps.db,
    client: deps.client,
    dispatch: deps.dispatch,
    settings: deps.audits,
    // From the oldest key it holds: orchestrators given the same keys sample the same jobs.
    samplingKey: samplingKey(deps.signingKeys[0].secretKey),
    signer,
    refreshReputation: (runnerIds) => reputation.activities.recomputeReputation({ runnerIds }),
  });
  if (deps.receipts.lighthouseApiKey) await preloadLighthouseSdk(deps.receipts.lighthouseUrl);
  worker = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: ORCHESTRATOR_QUEUE,
    ...workflowSource,
    // A forged (unsealed) activity result reaches the workflow as a refusal it can act on (an invalid result).
    ...(deps.payloadKeys ? { dataConverter: platformDataConverter(deps.payloadKeys, 'placeholder') } : {}),
    activities: {
      ...createPlatformActivities({ db: deps.db, touchRunner: reputation.touchRunner, auditIfSampled: audits.auditIfSampled }),
      ...reputation.activities,
      ...audits.activities,
      ...createReceiptActivities({ db: deps.db, signer, client: deps.client, settings: deps.receipts }),
      ...createPayoutActivities({ db: deps.db, stripe: stripeClient(deps.payouts.stripe), usdcConfigured: !!deps.payouts.chain, clock: deps.clock }),
      ...createUsdcPayoutActivities({ db: deps.db, chain: deps.payouts.chain }),
      ...createReputationTokenActivities({ db: deps.db, chain: deps.payouts.chain, batchMax: deps.reputation.token.batchMax }),
      ...createUpstreamActivities({ db: deps.db, cascade: deps.cascade }),
      ...createWarmPoolActivities({ db: deps.db }),
      ...createDecisionActivities({ db: deps.db, signer }),
      ...createDispatchActivities({ db: deps.db, client: deps.client, settings: deps.dispatch, payloadKeys: deps.payloadKeys }),
      ...createAgentReviewActivities({ db: deps.db }),
      ...createFederationActivities({ db: deps.db, signer, payloadKeys: deps.payloadKeys }),
    },
  });
  return worker;
}
