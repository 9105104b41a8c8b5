/** A workflow's history as Temporal's CLI prints it, for tests that check what a history holds in the clear. */
import { execFileSync } from 'node:child_process';
import { findTemporalCli } from '../../devstack/temporal.js';
import { decryptPayload, ENCRYPTED_ENCODING } from '../../platform/payload-encryption.js';
import type { TestStack } from './stack.js';

export interface RawPayload {
  metadata: Record<string, string>;
  data: string;
}

/** The history's JSON, exactly as `temporal workflow show --output json` gives it. */
export function rawHistory(stack: Pick<TestStack, 'namespace' | 'temporalAddress'>, workflowId: string): string {
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI (scripts/setup.sh installs it)');
  return execFileSync(cli, ['workflow', 'show', '--workflow-id', workflowId, '--namespace', stack.namespace, '--address', stack.temporalAddress, '--output', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Every Temporal payload in a history as the CLI prints it (JSON, payload data in base64). */
export function payloadsOf(node: unknown, out: RawPayload[] = []): RawPayload[] {
  if (Array.isArray(node)) node.forEach((n) => payloadsOf(n, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push(o as never);
    else Object.values(o).forEach((v) => payloadsOf(v, out));
  }
  return out;
}

export const isSealed = (p: RawPayload) => p.metadata.encoding === Buffer.from(ENCRYPTED_ENCODING).toString('base64');

/** A sealed payload opened with the platform's own keys: what the platform itself could read back. */
export function openSealed(stack: Pick<TestStack, 'payloadKeys'>, p: RawPayload): string {
  return Buffer.from(
    decryptPayload(stack.payloadKeys, {
      metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(p.data, 'base64'),
    }).data!,
  ).toString('utf8');
}
