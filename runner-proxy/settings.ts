/** The runner endpoint's settings, from the environment; every time bound is one, so tests use short ones. */
import { envInt, envString } from '../platform/env.js';
import { temporalCredentials, temporalSettings } from '../platform/temporal.js';
import type { RunnerProxySettings } from './proxy.js';

/** Production's defaults (the settings' declared ones), which the in-process endpoint of devstack/platform.ts shares, so tests run what production runs. */
export const RUNNER_ENDPOINT_DEFAULTS = {
  maxMessageBytes: envInt({}, 'TRD_RUNNER_ENDPOINT_MAX_MESSAGE_BYTES'),
  /** A sealed task token outlives the longest job: 6 h. */
  taskTokenTtlMs: envInt({}, 'TRD_RUNNER_ENDPOINT_TASK_TTL_MS'),
  upstreamCallTimeoutMs: envInt({}, 'TRD_RUNNER_ENDPOINT_UPSTREAM_CALL_TIMEOUT_MS'),
};

export function runnerProxySettings(env: Record<string, string | undefined>): Omit<RunnerProxySettings, 'tls'> & { tlsKeyFile: string; tlsCertFile: string } {
  // Its upstream is Temporal's frontend, with the same address, TLS and API key settings as every platform client.
  const temporal = temporalSettings(env);
  const c = temporalCredentials(temporal);
  return {
    upstream: temporal.address,
    namespace: temporal.namespace,
    upstreamTls: temporal.tls ? { ca: c.ca, cert: c.cert, key: c.key, serverName: c.serverName } : null,
    upstreamApiKey: c.apiKey,
    upstreamPing: {
      intervalMs: envInt(env, 'TRD_RUNNER_ENDPOINT_UPSTREAM_PING_MS'),
      timeoutMs: envInt(env, 'TRD_RUNNER_ENDPOINT_UPSTREAM_PING_TIMEOUT_MS'),
    },
    upstreamCallTimeoutMs: envInt(env, 'TRD_RUNNER_ENDPOINT_UPSTREAM_CALL_TIMEOUT_MS'),
    host: envString(env, 'TRD_RUNNER_ENDPOINT_HOST', '0.0.0.0'),
    port: envInt(env, 'TRD_RUNNER_ENDPOINT_PORT'),
    tlsKeyFile: envString(env, 'TRD_RUNNER_ENDPOINT_TLS_KEY_FILE'),
    tlsCertFile: envString(env, 'TRD_RUNNER_ENDPOINT_TLS_CERT_FILE'),
    refreshMs: envInt(env, 'TRD_RUNNER_ENDPOINT_REFRESH_MS'),
    maxMessageBytes: envInt(env, 'TRD_RUNNER_ENDPOINT_MAX_MESSAGE_BYTES'),
    taskTokenTtlMs: envInt(env, 'TRD_RUNNER_ENDPOINT_TASK_TTL_MS'),
  };
}
