/**
 * `npm run dev`: the whole system on one machine. PostgreSQL (embedded),
 * the Temporal dev server (SQLite file, web UI), the orchestrator, the
 * gateway and one runner serving SmolLM2 135M Instruct (a real model that
 * scripts/setup.sh fetched into the cache; TRD_DEV_MODEL=trd-tiny serves the
 * generated one). Ctrl-C stops everything it started.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findApiKey } from '../gateway/api-keys.js';
import { createRunnerToken } from '../gateway/runners.js';
import { createDb } from '../platform/db.js';
import { envInt, envPath, envString } from '../platform/env.js';
import { ACCOUNT_ROLES, grantRole } from '../platform/roles.js';
import { localTls } from './tls.js';
import { startLocalPostgres } from './postgres.js';
import { startTrdWorker, startTsProcess } from './processes.js';
import { findTemporalCli, startTemporalDevServer } from './temporal.js';
import { orderedStop } from './ordered-stop.js';
import { startLocalChain } from './local-chain.js';
import { devApiKey, devKeys } from './dev-state.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const STATE = envPath(env, 'TRD_STATE_DIR', ROOT);
const ports = {
  postgres: envInt(env, 'TRD_PG_PORT'),
  temporal: envInt(env, 'TRD_TEMPORAL_PORT'),
  temporalUi: envInt(env, 'TRD_TEMPORAL_UI_PORT'),
  gateway: envInt(env, 'TRD_GATEWAY_PORT'),
  runnerEndpoint: envInt(env, 'TRD_RUNNER_ENDPOINT_PORT'),
  evm: envInt(env, 'TRD_EVM_PORT'),
};
// The model the local runner serves, and llama.cpp's threads for it: 1 was fastest measured on a 2-core
// machine the platform's processes share (12.3 vs 0.7 tok/s through the stack, scripts/bench-models.ts,
// docs/models.md); a bigger machine can raise it.
const devModel = envString(env, 'TRD_DEV_MODEL');
const devThreads = String(envInt(env, 'TRD_DEV_THREADS'));
const devModelsDir = devModel === 'trd-tiny' ? `${STATE}/models` : join(envPath(env, 'TRD_CACHE_DIR'), 'models');
const say = (line: string) => console.log(`[dev] ${line}`);
const echo = (line: string) => console.log(line);

await mkdir(STATE, { recursive: true });
const { stops, stopAll } = orderedStop(say);

try {
  say('starting PostgreSQL');
  const postgres = await startLocalPostgres({ dataDir: `${STATE}/postgres`, port: ports.postgres, persistent: true });
  stops.push(() => postgres.stop());
  await postgres.createDatabase('trd');
  const databaseUrl = postgres.urlFor('trd');

  const cli = findTemporalCli();
  if (!cli) say('no Temporal CLI on this machine: the Temporal SDK downloads it (needs internet)');
  // The UI asks the gateway's codec server to open what the signed-in user's roles may read (gateway/codec-server.ts).
  const codecEndpoint = `http://127.0.0.1:${ports.gateway}/v1/codec`;
  const temporal = await startTemporalDevServer({ cli, port: ports.temporal, uiPort: ports.temporalUi, uiCodecEndpoint: codecEndpoint, dbFile: `${STATE}/temporal.db` });
  stops.push(() => temporal.stop());
  say(`Temporal at ${temporal.address}, web UI at ${temporal.uiUrl}`);

  const keys = await devKeys(STATE);
  const tls = localTls(`${STATE}/tls`);

  // The local EVM node with the test USDC and a funded hot wallet: USDC payouts are paid on it.
  say('starting the local EVM node');
  const chain = await startLocalChain({ port: ports.evm, stateDir: STATE, echo });
  stops.push(() => chain.stop());
  say(`local EVM node at ${chain.rpcUrl} (chain id ${chain.chainId}), USDC ${chain.usdc}, reputation token ${chain.reputationToken}, hot wallet ${chain.hotWallet}`);

  const common = {
    DATABASE_URL: databaseUrl,
    ...chain.env,
    TRD_TEMPORAL_ADDRESS: temporal.address,
    CHECKPOINT_DISABLE: '1',
    ...keys.payloadKeysEnv,
  };
  const spawnTs = (name: string, script: string, extraEnv: Record<string, string> = {}) => {
    const p = startTsProcess(name, script, { env: { ...common, ...extraEnv }, echo });
    stops.push(() => p.stop());
    return p;
  };
  // The one-shot setup (migrations with their check, search attributes, schedules), as a deployment runs it.
  const setup = spawnTs('setup', 'orchestrator/setup.ts');
  await setup.waitFor(/setup: done/, 180_000);
  const orchestrator = spawnTs('orchestrator', 'orchestrator/main.ts', { TRD_RECEIPT_SIGNING_KEY_FILE: keys.signingKeyFile });
  const gateway = spawnTs('gateway', 'gateway/main.ts', { TRD_GATEWAY_PORT: String(ports.gateway), TRD_CODEC_ALLOWED_ORIGINS: temporal.uiUrl! });
  const endpoint = spawnTs('runner-endpoint', 'runner-proxy/main.ts', {
    TRD_RUNNER_ENDPOINT_HOST: '127.0.0.1',
    TRD_RUNNER_ENDPOINT_PORT: String(ports.runnerEndpoint),
    TRD_RUNNER_ENDPOINT_TLS_KEY_FILE: `${STATE}/tls/server.key`,
    TRD_RUNNER_ENDPOINT_TLS_CERT_FILE: `${STATE}/tls/server.pem`,
  });
  await endpoint.waitFor(/runner-endpoint: listening/, 60_000);
  const base = `http://127.0.0.1:${ports.gateway}`;
  await gateway.waitFor(/gateway: listening/, 60_000);
  // The runner heartbeats to the gateway, which names it by its token.
  const runner = startTrdWorker(
    'runner',
    ['start', '--model', devModel, '--threads', devThreads, '--models-dir', devModelsDir, '--gateway-url', base, '--tls-ca', tls.caFile, '--tls-server-name', tls.serverName],
    { env: { TRD_TEMPORAL_ADDRESS: `127.0.0.1:${ports.runnerEndpoint}`, TRD_RUNNER_TOKEN: await devRunnerToken(databaseUrl, 'local-runner-1') }, echo },
  );
  stops.push(() => runner.stop());
  await Promise.all([orchestrator.waitFor(/orchestrator: polling/, 120_000), runner.waitFor(/trd-worker: serving/, 60_000)]);

  const apiKey = await devApiKey(databaseUrl, `${STATE}/dev-api-key`);
  await ownLocalRunner(databaseUrl, apiKey, 'local-runner-1');
  await devRoles(databaseUrl, apiKey);
  console.log(`
TRD Compute is running.
  gateway        ${base}
  runner endpoint 127.0.0.1:${ports.runnerEndpoint} (TLS; runners' only way to Temporal)
  Temporal UI    ${temporal.uiUrl}   (every job is a workflow: inference-job_...)
  EVM node       ${chain.rpcUrl}   (chain id ${chain.chainId}; USDC ${chain.usdc}; payouts from ${chain.hotWallet})
  dev API key    ${apiKey}

Send a job and wait up to 30 s for its output and signed receipt:
  curl -s -X POST '${base}/v1/jobs?wait=30' -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '${JSON.stringify({ model: devModel, prompt: devModel === 'trd-tiny' ? 'Hello, network' : 'The three primary colours are', max_tokens: 32 })}'

Or stream a chat completion, as any OpenAI client would (baseURL ${base}/v1):
  curl -N '${base}/v1/chat/completions' -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '${JSON.stringify({ model: devModel, messages: [{ role: 'user', content: devModel === 'trd-tiny' ? 'Hello, network' : 'What is the capital of France? Answer in one sentence.' }], max_tokens: 64, stream: true })}'

Check a receipt in the browser: ${base}/verify/
Owner dashboard: ${base}/dashboard/ (sign in with the dev API key: the local runner is yours)
Read payouts and agent reviews in the Temporal UI: sign in on the dashboard (the dev account has the finance and
  reviewer roles), then in the UI's Codec Server settings tick "Use my browser setting", endpoint ${codecEndpoint},
  and "Include cross-origin credentials" (docs/operations.md, "Reading histories in Temporal's UI")

Ctrl-C stops everything.`);
  await new Promise(() => {});
} catch (err) {
  console.error(`[dev] ${(err as Error).message}`);
  await stopAll(1);
}

/** The local developer reads payout and agent review histories in Temporal's UI, as finance and a reviewer would. */
async function devRoles(databaseUrl: string, apiKey: string): Promise<void> {
  const db = createDb(databaseUrl);
  try {
    const found = await findApiKey(db, apiKey);
    for (const role of ACCOUNT_ROLES) if (found) await grantRole(db, found.customerId, role);
  } finally {
    await db.$disconnect();
  }
}

/** A fresh token for the local runner at each start (the old one stops working). */
async function devRunnerToken(databaseUrl: string, runnerId: string): Promise<string> {
  const db = createDb(databaseUrl);
  try {
    return await createRunnerToken(db, runnerId);
  } finally {
    await db.$disconnect();
  }
}

/** The local developer owns the local runner, as `trd-worker login` would have made them: the dashboard shows it. */
async function ownLocalRunner(databaseUrl: string, apiKey: string, runnerId: string): Promise<void> {
  const db = createDb(databaseUrl);
  try {
    const key = await findApiKey(db, apiKey);
    await db.runner.update({ where: { id: runnerId }, data: { ownerId: key!.customerId } });
  } finally {
    await db.$disconnect();
  }
}
