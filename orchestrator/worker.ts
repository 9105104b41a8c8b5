/**
 * The orchestrator process: hosts the workflows and the trusted activities
 * (database, receipt signing, routing advice) on the `orchestrator` queue.
 */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { ORCHESTRATOR_QUEUE } from '@trd/protocol';
import { createDispatchActivities } from '../activities/dispatch-activities.js';
import { createPlatformActivities } from '../activities/platform-activities.js';
import type { DispatchSettings } from '../dispatch/settings.js';
import type { Db } from '../platform/db.js';
import type { SigningKey } from '../platform/signing-key.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface OrchestratorDeps {
  connection: NativeConnection;
  namespace: string;
  /** For routing advice: task-queue pollers and running jobs' progress. */
  client: Client;
  dispatch: DispatchSettings;
  db: Db;
  signingKey: SigningKey;
  /** A prebuilt bundle (production); otherwise workflows are bundled from source at start. */
  workflowBundlePath?: string;
}

export async function registerSigningKey(db: Db, key: SigningKey): Promise<void> {
  await db.signingKey.upsert({
    where: { kid: key.kid },
    create: { kid: key.kid, publicKeyPem: key.publicKeyPem },
    update: {},
  });
}

export async function createOrchestratorWorker(deps: OrchestratorDeps): Promise<Worker> {
  await registerSigningKey(deps.db, deps.signingKey);
  const workflowSource: Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> = deps.workflowBundlePath
    ? { workflowBundle: { codePath: deps.workflowBundlePath } }
    : { workflowsPath: WORKFLOWS_PATH };
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: ORCHESTRATOR_QUEUE,
    ...workflowSource,
    activities: {
      ...createPlatformActivities({ db: deps.db, signingKey: deps.signingKey }),
      ...createDispatchActivities({ db: deps.db, client: deps.client, settings: deps.dispatch }),
    },
  });
}
