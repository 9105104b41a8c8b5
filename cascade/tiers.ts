/**
 * What of the cascade travels in a job's input and history, and the names
 * the workflow and the orchestrator's upstream calls share. Pure (no I/O), so
 * workflow code imports it; cascade/config.ts reads and checks the file.
 */
import type { UpstreamPrice } from '../economy/billing.js';

/** An upstream tier as the gateway fixed it in a job's input at acceptance: what the job pays, and its time bounds. */
export interface UpstreamTierInput {
  /** The provider tier's name in the model's cascade; `provider:<name>` is what the customer sees. */
  name: string;
  price: UpstreamPrice;
  cost: UpstreamPrice;
  timeoutMs: number;
  maxAttempts: number;
  retryInitialIntervalMs: number;
}

/** `trd_served_by` of a job a provider tier served. */
export const providerLabel = (name: string) => `provider:${name}`;

/** ApplicationFailure types of an upstream call; only Unavailable is retried on the same tier, the others pass the job on at once. */
export const UpstreamErrors = {
  Unavailable: 'UpstreamUnavailable',
  Refused: 'UpstreamRefused',
  Busy: 'UpstreamBusy',
  NotConfigured: 'UpstreamNotConfigured',
  BadAnswer: 'UpstreamBadAnswer',
} as const;

export const NON_RETRYABLE_UPSTREAM_ERRORS: string[] = [UpstreamErrors.Refused, UpstreamErrors.Busy, UpstreamErrors.NotConfigured, UpstreamErrors.BadAnswer];
