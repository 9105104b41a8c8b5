/**
 * `npm run dev -- --cluster`: the local stack as a cluster (devstack/cluster.ts,
 * docs/cluster.md): two Temporal server nodes on PostgreSQL, two gateways and
 * two runner endpoints behind HAProxy, two orchestrators, three runners. The
 * platform's data and Temporal's are kept in .trd/cluster between starts.
 * Ctrl-C stops everything it started.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, envPath } from '../platform/env.js';
import { startCluster } from './cluster.js';
import { devApiKey, devKeys } from './dev-state.js';
import { migrateDatabase } from './migrate.js';
import { startLocalPostgres } from './postgres.js';
import { orderedStop } from './ordered-stop.js';
import { writeRunFiles } from './services.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const STATE = join(envPath(env, 'TRD_STATE_DIR', ROOT), 'cluster');
const ports = {
  postgres: envInt(env, 'TRD_PG_PORT', 55433),
  temporal: envInt(env, 'TRD_TEMPORAL_PORT'),
  gateway: envInt(env, 'TRD_GATEWAY_PORT'),
  runners: envInt(env, 'TRD_RUNNER_ENDPOINT_PORT'),
};
const RUNNERS = envInt(env, 'TRD_CLUSTER_RUNNERS');
const say = (line: string) => console.log(`[dev] ${line}`);
const echo = env.TRD_DEV_QUIET ? undefined : (line: string) => console.log(line);

await mkdir(STATE, { recursive: true });
const { stops, stopAll } = orderedStop(say);

try {
  say('starting the platform\'s PostgreSQL');
  const postgres = await startLocalPostgres({ dataDir: `${STATE}/postgres`, port: ports.postgres, persistent: true });
  stops.push(() => postgres.stop());
  await postgres.createDatabase('trd');
  const databaseUrl = postgres.urlFor('trd');
  const { applied } = await migrateDatabase(databaseUrl);
  say(`database ready, ${applied.length} migration(s) applied`);

  const keys = await devKeys(STATE);
  const { workflowBundlePath, modelsDir } = await writeRunFiles(STATE);

  say('starting the Temporal cluster, the balancer and the platform\'s replicas');
  const cluster = await startCluster(
    { pgAdminUrl: postgres.urlFor('postgres'), pgUrlPrefix: postgres.urlFor(''), workflowBundlePath, modelsDir },
    {
      dir: STATE,
      databaseUrl,
      persistent: true,
      ports,
      signingKeyPem: await readFile(keys.signingKeyFile, 'utf8'),
      payloadKeys: keys.payloadKeys,
      echo,
    },
  );
  stops.push(() => cluster.stop());
  for (let i = 1; i <= RUNNERS; i++) await cluster.startRunner({ workerId: `local-runner-${i}` });

  const apiKey = await devApiKey(databaseUrl, `${STATE}/dev-api-key`);
  const base = cluster.baseUrl;
  console.log(`
TRD Compute is running as a cluster (docs/cluster.md).
  gateway (HAProxy)          ${base}           → ${cluster.gateways.map((g) => g.address).join(', ')}
  runner endpoint (HAProxy)  ${cluster.runnerAddress}  → ${cluster.runnerEndpoints.map((e) => e.address).join(', ')} (TLS passthrough)
  Temporal (HAProxy)         ${cluster.temporalAddress}  → ${cluster.temporal.frontends.join(', ')} (${cluster.temporal.settings.shards} history shards on PostgreSQL)
  orchestrators              ${cluster.orchestrators.length}, runners ${RUNNERS}
  HAProxy config             ${cluster.lb.configFile}
  dev API key                ${apiKey}

Send a job and wait up to 30 s for its output and signed receipt:
  curl -s -X POST '${base}/v1/jobs?wait=30' -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '{"model":"trd-tiny","prompt":"Hello, cluster","max_tokens":32}'

Look at the workflows with the Temporal CLI: temporal workflow list --address ${cluster.temporalAddress}

Ctrl-C stops everything.`);
  await new Promise(() => {});
} catch (err) {
  console.error(`[dev] ${(err as Error).stack ?? err}`);
  await stopAll(1);
}
