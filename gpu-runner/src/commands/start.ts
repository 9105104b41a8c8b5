/** `trd-worker start`: load a model and serve jobs for it until stopped. */
import { Command } from 'commander';
import { hostname } from 'node:os';
import { defaultThreads } from '../engine.js';
import { defaultModelsDir } from '../paths.js';
import { startRunner } from '../worker.js';
import { positiveInt } from './options.js';

export function startCommand(): Command {
  const env = process.env;
  return new Command('start')
    .description('load a model and serve inference jobs for it')
    .requiredOption('-m, --model <key|path>', 'catalog model key (e.g. trd-tiny) or path to a GGUF file', env.TRD_MODEL)
    .option('--model-key <key>', 'catalog key a GGUF file serves, when it is not recognised by its hash')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .option('--worker-id <id>', 'this runner\'s identity in receipts', env.TRD_WORKER_ID || `runner-${hostname()}`)
    .option('--threads <n>', 'CPU threads for llama.cpp (default: half the cores)', positiveInt('--threads', 1024), defaultThreads())
    .option('--concurrency <n>', 'jobs generated at once', positiveInt('--concurrency', 64), 1)
    .option('--shutdown-grace-ms <ms>', 'on SIGINT/SIGTERM, how long the job in flight may finish before it is handed back', positiveInt('--shutdown-grace-ms'), Number(env.TRD_SHUTDOWN_GRACE_MS || 10_000))
    .option('--temporal-address <host:port>', 'Temporal frontend (or the runner endpoint in front of it)', env.TRD_TEMPORAL_ADDRESS || '127.0.0.1:7233')
    .option('--namespace <ns>', 'Temporal namespace', env.TRD_TEMPORAL_NAMESPACE || 'default')
    .option('--tls', 'connect with TLS', env.TRD_TEMPORAL_TLS === '1' || env.TRD_TEMPORAL_TLS === 'true')
    .option('--tls-ca <file>', 'CA certificate to trust for TLS', env.TRD_TEMPORAL_TLS_CA)
    .option('--tls-server-name <name>', 'server name to verify for TLS', env.TRD_TEMPORAL_TLS_SERVER_NAME)
    .option('--token <token>', 'runner token, sent as "authorization: Bearer" gRPC metadata (or TRD_RUNNER_TOKEN)', env.TRD_RUNNER_TOKEN)
    .action(async (o) => {
      const log = (line: string) => console.log(`trd-worker: ${line}`);
      const runner = await startRunner(
        {
          model: o.model,
          modelKey: o.modelKey,
          modelsDir: o.modelsDir,
          workerId: o.workerId,
          threads: o.threads,
          concurrency: o.concurrency,
          shutdownGraceMs: o.shutdownGraceMs,
          connection: {
            address: o.temporalAddress,
            namespace: o.namespace,
            tls: Boolean(o.tls),
            tlsCaFile: o.tlsCa,
            tlsServerName: o.tlsServerName,
            token: o.token,
          },
        },
        log,
      );
      await runner.done;
      log('stopped');
    });
}
