/**
 * Front-of-chain share: for a class of jobs (an API key, an organization, or
 * a request header: the platform's own traffic, say), only a configured
 * share goes through the network first; the rest goes straight to the
 * model's upstream tiers. Which jobs is chosen from the job id, so a job's
 * route is the same on every gateway replica and on a retried start.
 */
import { createHash } from 'node:crypto';
import type { CascadeConfig } from './config.js';

/** What a job is matched by. */
export interface JobClass {
  apiKeyId?: string;
  customerId: string;
  /** A request header's value, by its (case-insensitive) name. */
  header(name: string): string | undefined;
}

/** The share (basis points, 0..10,000) of this class's jobs that go through the network first; null when no rule matches. */
export function networkShareBps(config: CascadeConfig, job: JobClass): number | null {
  for (const rule of config.shares ?? []) {
    const m = rule.match;
    if (m.apiKeyId !== undefined && m.apiKeyId !== job.apiKeyId) continue;
    if (m.customerId !== undefined && m.customerId !== job.customerId) continue;
    if (m.header !== undefined && job.header(m.header.name) !== m.header.value) continue;
    return rule.networkBps;
  }
  return null;
}

/** Whether this job is in the share that goes through the network: its id's hash, spread evenly over 10,000 places. */
export function throughNetwork(jobId: string, networkBps: number): boolean {
  const place = createHash('sha256').update(jobId).digest().readUInt32BE(0) % 10_000;
  return place < networkBps;
}
