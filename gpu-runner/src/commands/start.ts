/** `trd-worker start`: load a model and serve jobs for it until stopped. */
import { Command, Option } from 'commander';
import { readCredentials } from '../credentials.js';
import { defaultModels, detectHardware, hardwareClassFor } from '../zero-config.js';
import { clearDaemonState, writeDaemonState } from '../daemon-state.js';
import { defaultThreads } from '../engine.js';
import { defaultModelsDir } from '../paths.js';
import { startRunner } from '../worker.js';
import { MAX_TIMER_MS, envDefault, envFlag, envText, positiveInt } from './options.js';

export function startCommand(): Command {
  const env = process.env;
  return new Command('start')
    .description('load a model and serve inference jobs for it')
    .option('-m, --model <key|path...>', 'catalog model key (e.g. trd-tiny) or path to a GGUF file; repeat to serve several (default: what fits this machine\'s class and is downloaded)', envText(env, 'TRD_MODEL')?.split(','))
    .addOption(new Option('--load <when>', 'load models at start (warm) or when the first job needs one (cold start, never billed)').choices(['on-start', 'on-demand']).default('on-start'))
    .option('--model-key <key>', 'catalog key a GGUF file serves, when it is not recognised by its hash')
    .option('--models-dir <dir>', 'where model files live', defaultModelsDir())
    .option('--worker-id <id>', 'serve anonymously under this id, with no gateway (a private Temporal); normally the gateway names the runner', envText(env, 'TRD_WORKER_ID'))
    .option('--threads <n>', 'CPU threads for llama.cpp (default: half the cores)', positiveInt('--threads', 1024), defaultThreads())
    .option('--concurrency <n>', 'jobs generated at once (default: 1 with --model, else the hardware class\'s)', positiveInt('--concurrency', 64))
    .option('--sequence-wait-ms <ms>', 'how long a job that arrives while every sequence is busy may wait for one', positiveInt('--sequence-wait-ms', MAX_TIMER_MS), envDefault(env, 'TRD_SEQUENCE_WAIT_MS', positiveInt('--sequence-wait-ms', MAX_TIMER_MS)))
    .option('--stall-timeout-ms <ms>', 'a generation with no new token for this long is aborted and handed back to the network', positiveInt('--stall-timeout-ms', MAX_TIMER_MS), envDefault(env, 'TRD_STALL_TIMEOUT_MS', positiveInt('--stall-timeout-ms', MAX_TIMER_MS)))
    .option('--shutdown-grace-ms <ms>', 'on SIGINT/SIGTERM, how long the job in flight may finish before it is handed back', positiveInt('--shutdown-grace-ms', MAX_TIMER_MS), envDefault(env, 'TRD_SHUTDOWN_GRACE_MS', positiveInt('--shutdown-grace-ms', MAX_TIMER_MS)))
    .option('--temporal-address <host:port>', 'Temporal frontend (or the runner endpoint in front of it)', envText(env, 'TRD_TEMPORAL_ADDRESS'))
    .option('--namespace <ns>', 'Temporal namespace', envText(env, 'TRD_TEMPORAL_NAMESPACE'))
    .option('--tls', 'connect with TLS', envFlag(env, 'TRD_TEMPORAL_TLS'))
    .option('--tls-ca <file>', 'CA certificate to trust for TLS', envText(env, 'TRD_TEMPORAL_TLS_CA_FILE'))
    .option('--tls-server-name <name>', 'server name to verify for TLS', envText(env, 'TRD_TEMPORAL_TLS_SERVER_NAME'))
    .option('--token <token>', 'runner token: names this runner to the gateway, and is sent to Temporal as "authorization: Bearer" gRPC metadata (or TRD_RUNNER_TOKEN)', envText(env, 'TRD_RUNNER_TOKEN'))
    .option('--gateway-url <url>', 'gateway to send heartbeats to (needs --token); it answers with this runner\'s id and trust tier', envText(env, 'TRD_GATEWAY_URL'))
    .action(async (o) => {
      const log = (line: string) => console.log(`trd-worker: ${line}`);
      // The credential from `trd-worker login` stands in for --token and --gateway-url; a --worker-id
      // without a token is the anonymous mode (a private Temporal, no gateway).
      if (!o.token && !o.workerId) {
        const stored = await readCredentials();
        if (!stored) throw new Error('not logged in: run `trd-worker login --gateway-url <url>` first (or pass --token and --gateway-url, or --worker-id for a private Temporal)');
        o.token = stored.token;
        o.gatewayUrl ||= stored.gateway_url;
      }
      let contextSize: number | undefined;
      if (!o.model) {
        // Zero config: the hardware class decides.
        const hw = await detectHardware();
        const cls = hardwareClassFor(hw);
        o.model = defaultModels(cls, hw.freeMiB, o.modelsDir);
        o.concurrency ??= cls.concurrency;
        contextSize = cls.contextSize;
        log(`hardware class ${cls.name}: serving ${o.model.join(', ')}, context ${cls.contextSize}, ${o.concurrency} job(s) at once`);
      }
      const runner = await startRunner(
        {
          models: o.model,
          load: o.load,
          modelKey: o.modelKey,
          modelsDir: o.modelsDir,
          workerId: o.workerId,
          sequenceWaitMs: o.sequenceWaitMs,
          stallTimeoutMs: o.stallTimeoutMs,
          gatewayUrl: o.gatewayUrl,
          threads: o.threads,
          concurrency: o.concurrency ?? 1,
          contextSize,
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
      await writeDaemonState({ pid: process.pid, worker_id: runner.workerId, started_at: new Date().toISOString() });
      try {
        await runner.done;
      } finally {
        await clearDaemonState();
      }
      log('stopped');
    });
}
