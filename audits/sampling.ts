/**
 * Which succeeded jobs are audited. The decision is a keyed hash of the job
 * id against the rate: a retried activity decides the same, and a runner,
 * which sees job ids but not the key, cannot tell which of its jobs will be
 * checked. The key is derived from the orchestrator's receipt-signing key,
 * which orchestrators running side by side share.
 */
import { createHmac } from 'node:crypto';
import type { TrustTier } from '@trd/protocol';
import { ALL_JOBS_BPS, type AuditSettings } from './settings.js';

export type SamplingKey = Buffer;

export function samplingKey(signingSecret: Uint8Array): SamplingKey {
  return createHmac('sha256', Buffer.from(signingSecret)).update('trd audit sampling v1').digest();
}

/** The job's place in [0, 10000): uniform over job ids, fixed for a job. */
export function auditBucket(key: SamplingKey, jobId: string): number {
  return createHmac('sha256', key).update(jobId).digest().readUInt32BE(0) % ALL_JOBS_BPS;
}

/** The rate a runner of this tier is audited at; a runner the platform does not know counts as new. */
export function auditRateBps(s: Pick<AuditSettings, 'rateBps' | 'probationRateBps'>, tier: TrustTier | null): number {
  return tier === null || tier === 'probation' ? Math.max(s.rateBps, s.probationRateBps) : s.rateBps;
}

export function isSampled(key: SamplingKey, jobId: string, rateBps: number): boolean {
  return auditBucket(key, jobId) < rateBps;
}
