/**
 * The runner's line to the gateway: heartbeats that say what it serves and
 * how loaded it is, answered with who the platform says it is (its runner id,
 * from its token) and its trust tier.
 */
import { HeartbeatAnswerSchema, contractProblem, type HeartbeatAnswer, type RunnerHeartbeat, type UpdateNotice } from '@trd/protocol';
import { gatewayRequest, problemOf } from './gateway-api.js';

export type { HeartbeatAnswer, RunnerHeartbeat, UpdateNotice };

export class GatewayRejected extends Error {}

export async function sendHeartbeat(gatewayUrl: string, token: string, beat: RunnerHeartbeat): Promise<HeartbeatAnswer> {
  const answer = await gatewayRequest(gatewayUrl, '/v1/runners/heartbeat', { method: 'POST', body: beat, token });
  if (answer.status === 401 || answer.status === 403) {
    throw new GatewayRejected(`the gateway refused this runner's token: ${problemOf(answer)}; run \`trd-worker login\` or pass a valid --token`);
  }
  if (answer.status !== 200) throw new Error(`heartbeat to ${new URL(gatewayUrl).origin} failed with HTTP ${answer.status}: ${problemOf(answer)}`);
  try {
    return parseHeartbeatAnswer(answer.json);
  } catch (err) {
    throw new Error(`heartbeat to ${new URL(gatewayUrl).origin}: the answer is malformed (${(err as Error).message})`);
  }
}

/** The gateway's answer, checked against the contract (protocol/runner-contract.ts) before the daemon acts on it. */
export function parseHeartbeatAnswer(json: unknown): HeartbeatAnswer {
  const parsed = HeartbeatAnswerSchema.safeParse(json);
  if (!parsed.success) throw new Error(contractProblem(parsed.error, 'heartbeat answer'));
  return parsed.data;
}
