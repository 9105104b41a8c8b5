/**
 * What of the cascade travels in a job's input and history, and the names
 * the workflow and the orchestrator's upstream calls share. Pure (no I/O), so
 * workflow code imports it; cascade/config.ts reads and checks the file.
 */
import type { UpstreamPrice } from '../economy/billing.js';

/** An upstream tier as the gateway fixed it in a job's input at acceptance: what the job pays, and its time bounds. */
export interface UpstreamTierInput {
  /** The tier's name in the model's cascade; `provider:<name>` (or `pod:<name>`) is what the customer sees. */
  name: string;
  /** A peer pod (federation) rather than a provider; absent for providers, as in jobs from before pods. */
  kind?: 'pod';
  price: UpstreamPrice;
  cost: UpstreamPrice;
  timeoutMs: number;
  maxAttempts: number;
  retryInitialIntervalMs: number;
}

/** `trd_served_by` of a job a provider tier served. */
export const providerLabel = (name: string) => `provider:${name}`;
/** `trd_served_by` of a job a peer pod served. */
export const podLabel = (name: string) => `pod:${name}`;
/** `trd_served_by` of a job this upstream tier served. */
export const upstreamLabel = (t: { name: string; kind?: 'pod' | 'provider' }) => (t.kind === 'pod' ? podLabel(t.name) : providerLabel(t.name));

/** ApplicationFailure types of an upstream call; only Unavailable is retried on the same tier, the others pass the job on at once. */
export const UpstreamErrors = {
  Unavailable: 'UpstreamUnavailable',
  Refused: 'UpstreamRefused',
  Busy: 'UpstreamBusy',
  NotConfigured: 'UpstreamNotConfigured',
  BadAnswer: 'UpstreamBadAnswer',
  /** A peer pod's answer without a receipt that verifies with its key: the job passes on, the peer is not paid. */
  BadPeerReceipt: 'UpstreamBadPeerReceipt',
} as const;

export const NON_RETRYABLE_UPSTREAM_ERRORS: string[] = [UpstreamErrors.Refused, UpstreamErrors.Busy, UpstreamErrors.NotConfigured, UpstreamErrors.BadAnswer, UpstreamErrors.BadPeerReceipt];
