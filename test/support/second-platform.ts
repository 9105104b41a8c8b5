/**
 * Another platform on the test's services, in a Temporal namespace of its own (registered here:
 * global setup registers the test files' namespaces only), with its own database, gateway,
 * orchestrator and signing key: a peer pod, or an upstream provider.
 */
import Long from 'long';
import { startPlatform, type LocalPlatform } from '../../devstack/platform.js';
import { gatewaySettings, type GatewaySettings } from '../../gateway/settings.js';
import { FIXTURE_PAYLOAD_KEYS } from './fixture-keys.js';
import { TEST_JOB_LIMITS, TEST_RUNNER_HEARTBEAT_MS, serviceEndpoints } from './stack.js';

export async function startSecondPlatform(namespace: string, settings: Partial<GatewaySettings> = {}): Promise<LocalPlatform> {
  const services = serviceEndpoints();
  const { Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: services.temporalAddress });
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } }).catch((err: Error) => {
      if (!/already/i.test(err.message)) throw err;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await connection.close();
  }
  return startPlatform(services, {
    namespace,
    jobLimits: TEST_JOB_LIMITS,
    payloadKeys: FIXTURE_PAYLOAD_KEYS,
    settings: { dispatch: { ...gatewaySettings({}).dispatch, runnerHeartbeatIntervalMs: TEST_RUNNER_HEARTBEAT_MS }, ...settings },
  });
}
