/**
 * What workflow code and the code that starts, signals or feeds workflows
 * share: workflow and schedule ids, the workflows' inputs and outcomes, the
 * task a runner is sent for a job, and every failure type an activity throws.
 * Pure (no @temporalio import, no I/O), so it is safe in the workflow bundle
 * and loads nothing of Temporal's workflow runtime into activity processes:
 * code outside workflows/ imports this, never workflows/ (test/layout/imports).
 */
import type { InferenceTask, SignedReceipt, TrustTier, VerifyTask } from '@trd/protocol';
import type { SignedAttestation } from '@trd/protocol/attestation';
import type { AuditLimits, AuditMethodSetting } from '../audits/settings.js';
import type { ReceiptSettings } from '../receipts/settings.js';
import type { UpstreamTierInput } from '../cascade/tiers.js';

export { workflowIdForJob } from '@trd/protocol/ids';
export { InferenceErrors, RunnerFailures } from '@trd/protocol/inference';

/** Failure types the platform's own activities throw; workflows name the non-retryable ones. */
export const PlatformFailures = {
  UnknownJob: 'UnknownJob',
  InvalidReceipt: 'InvalidReceipt',
  ChainConflict: 'ChainConflict',
  CidMismatch: 'CidMismatch',
  StripeNotConfigured: 'StripeNotConfigured',
  /** Retryable: this orchestrator holds no active signing key right now (orchestrator/signing-keys.ts). */
  SigningKeyUnavailable: 'SigningKeyUnavailable',
} as const;

/** Failure types of the platform's chain transactions (activities/chain-transactions.ts: USDC payouts, the reputation token); all but unknownTransaction are retryable: the step waits, and the type and message say what for. */
export const ChainWaits = {
  notConfigured: 'ChainNotConfigured',
  wrongChain: 'ChainIdMismatch',
  hotWallet: 'HotWalletUnavailable',
  underfunded: 'HotWalletUnderfunded',
  busy: 'HotWalletBusy',
  fees: 'GasPriceAboveCap',
  inclusion: 'AwaitingInclusion',
  confirmations: 'AwaitingConfirmations',
  broadcast: 'BroadcastFailed',
  unknownTransaction: 'ChainTransactionUnknown',
} as const;

// ---- inference job (workflows/inference-job.ts)

/** Time bounds fixed when the job is accepted, so a job's history never depends on later settings. */
export interface JobLimits {
  heartbeatTimeoutMs: number;
  /** From acceptance to the end of generation, queue wait included. */
  deadlineMs: number;
  /** Tries per route (Temporal retries a runner that died), and runner faults per job. */
  maxAttempts: number;
  retryInitialIntervalMs: number;
  /** How long a job waits for a free warm runner before runners that must load the model may take it. */
  warmWaitMs: number;
  /** First look at a job's progress, and the longest gap between looks while it runs. */
  progressCheckMs: number;
  /** Added to a job's expected duration before it counts as running long. */
  longJobGraceMs: number;
}

export interface JobInput {
  jobId: string;
  customerId: string;
  model: string;
  prompt: string;
  promptSha256: string;
  maxTokens: number;
  temperature: number;
  seed?: number;
  /** Only runners of this tier or above may take the job. */
  minTier: TrustTier;
  /** The model's price when the job was accepted. */
  creditsPerHour: number;
  acceptedAt: string;
  limits: JobLimits;
  /** OpenAI-compatible requests: chat messages (as canonical JSON in `prompt`), nucleus sampling, stop strings. */
  promptFormat?: 'text' | 'chat';
  topP?: number;
  stop?: string[];
  /** The runner pushes text to the gateway with it, as it is generated (a streaming request). */
  streamToken?: string;
  /** The session whose receipt chain this job's receipt joins (workflows/receipt-chain.ts). */
  sessionId?: string;
  /** The model's upstream tiers after the network, in order (workflows/cascade.ts); absent: the network alone. */
  upstream?: UpstreamTierInput[];
  /** The customer sent it straight to the upstream tiers. */
  upstreamFirst?: true;
  /** Proof of work asked for: seal the prompt and output to this X25519 public key (base64), pin the blob, name its CID in the receipt. */
  proof?: { publicKey: string };
}

export type JobOutcome =
  | { status: 'succeeded'; receipt: SignedReceipt; completionTokens: number }
  | { status: 'failed'; reason: string }
  | { status: 'cancelled'; completionTokens: number };

/** What a runner is sent for this job (audits send the same, without the stream token). Pure. */
export function inferenceTaskFor(input: JobInput): InferenceTask {
  return {
    jobId: input.jobId,
    model: input.model,
    prompt: input.prompt,
    maxTokens: input.maxTokens,
    temperature: input.temperature,
    seed: input.seed,
    // Set only when given, so the task of a plain job is what it always was.
    ...(input.promptFormat ? { promptFormat: input.promptFormat } : {}),
    ...(input.topP !== undefined ? { topP: input.topP } : {}),
    ...(input.stop ? { stop: input.stop } : {}),
    ...(input.streamToken ? { streamToken: input.streamToken } : {}),
  };
}

// ---- audit job (workflows/audit-job.ts)

/** One audit per job: the job id is the business key, and the audit's id. */
export function auditWorkflowId(jobId: string): string {
  return `audit:${jobId}`;
}

export interface AuditInput {
  /** The audited job, who ran it, and what it claimed. */
  jobId: string;
  auditedWorkerId: string;
  model: string;
  claimed: VerifyTask['claimed'];
  method: AuditMethodSetting;
  minTokenProbability: number;
  limits: AuditLimits;
}

export type AuditOutcome =
  | { status: 'passed' | 'failed'; auditorId: string; detail: string }
  | { status: 'not-performed'; reason: string };

// ---- receipt chain and pinning (workflows/receipt-chain.ts, workflows/pin-receipt.ts)

/** One chain per session: the session id is the business key. */
export function chainWorkflowId(sessionId: string): string {
  return `receipt-chain-${sessionId}`;
}

/** The chain's update that appends one receipt (`{ fields }` in, the chained receipt out). */
export const APPEND_RECEIPT_UPDATE = 'appendReceipt';
/** The agent review's updates: a reviewer's decision, and the author's resubmitted version. */
export const AGENT_REVIEW_UPDATE = 'review';
export const AGENT_RESUBMIT_UPDATE = 'resubmit';
/** The chain's query for its state. */
export const CHAIN_STATE_QUERY = 'chainState';

export interface ChainState {
  /** The seq the next receipt gets. */
  next: number;
  head: string | null;
}

export interface ChainInput {
  sessionId: string;
  settings: ReceiptSettings['chain'];
  /** Carried over by continue-as-new; a fresh start reads it from the database. */
  state?: ChainState;
}

/** One pinning per receipt: the CID is the business key. */
export function pinWorkflowId(cid: string): string {
  return `pin-${cid}`;
}

export interface PinInput {
  cid: string;
  /** The receipt whose bytes the CID names; absent for a block already in the content store (a sealed proof), which is pinned as it is. */
  receipt?: SignedReceipt;
  retry: ReceiptSettings['pin'];
}

export interface LighthouseOutcome {
  pinned: boolean;
  providerCid?: string;
  detail: string;
}

export interface PinOutcome {
  cid: string;
  local: true;
  lighthouse: LighthouseOutcome;
}

// ---- schedules (orchestrator/schedules.ts starts them; workflows/payout-settlement.ts, reputation-sweep.ts run)

export const PAYOUT_SCHEDULE_ID = 'payout-settlement';
export const REPUTATION_SCHEDULE_ID = 'reputation-sweep';
/** signRunnerDecisions (workflows/runner-decisions.ts). */
export const DECISIONS_SCHEDULE_ID = 'runner-decisions';
/** warmPoolCredits (workflows/warm-pool.ts), while TRD_WARM_POOL_TARGET is set. */
export const WARM_POOL_SCHEDULE_ID = 'warm-pool-credits';

/**
 * Search attributes of a payout batch, registered in the namespace by the
 * one-shot setup, so finance can list batches, e.g.
 * `temporal workflow list --query 'TrdPayoutStatus = "settled" AND TrdPayoutPaidUsdCents > 0'`.
 */
export const PAYOUT_SEARCH_ATTRIBUTES = {
  status: { name: 'TrdPayoutStatus', type: 'KEYWORD' },
  payouts: { name: 'TrdPayoutCount', type: 'INT' },
  totalUsdCents: { name: 'TrdPayoutTotalUsdCents', type: 'INT' },
  paidUsdCents: { name: 'TrdPayoutPaidUsdCents', type: 'INT' },
} as const;

export interface SettlementInput {
  /** How long one Stripe call may take before it is tried again (with the same idempotency key). */
  stepTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** How often a USDC payout waiting on the chain (funds, fees, confirmations) looks again; absent in schedules from before USDC. */
  chainPollMs?: number;
}

export interface SettlementSummary {
  batchId: string;
  stripeConfigured: boolean;
  payouts: number;
  paid: number;
  returned: number;
  held: number;
  paidUsdCents: number;
  paidCredits: number;
  /** USDC payouts paid, and their total in base units (6 decimals); since the `usdc-payouts` patch. */
  paidUsdc?: number;
  paidUsdcBaseUnits?: number;
}

export interface SweepInput {
  challenge: {
    maxTokens: number;
    /** A runner busy past this is not challenged this time. */
    waitMs: number;
    timeoutMs: number;
  };
  /** The reputation token's transactions (since the `reputation-token` patch; absent in older schedules: the defaults). */
  token?: TokenLimits;
}

/** Bounds of the reputation token's chain steps in a sweep. */
export interface TokenLimits {
  /** How often a waiting step (fees, funds, confirmations) looks again. */
  pollMs: number;
  /** One step's bound before it is tried again. */
  stepTimeoutMs: number;
  /** A step still waiting after this gives up for this sweep; the next sweep takes it up where it was. */
  budgetMs: number;
  /** Fresh transactions for one mint, slash or batch after one reverted or was dropped. */
  maxAttempts: number;
}

// ---- federation between pods (workflows/federation.ts; gateway/federation.ts writes the Schedules and starts the countersigning)

/** Each peer's attestation Schedule; its runs' workflow ids (`<schedule id>-<time>`) name their exchanges. */
export const attestationScheduleId = (peer: string) => `federation-attest:${peer}`;
/** One received attestation's countersigning: a peer's retried POST joins the run already under way. */
export const countersignWorkflowId = (pod: string, attestationSha256: string) => `federation-countersign:${pod}:${attestationSha256}`;

/** Failure types of the federation activities; all but PeerUnreachable end the run (the next scheduled one tries again). */
export const FederationFailures = {
  /** The peer's gateway did not answer, or answered 429 or 5xx: retried with backoff. */
  PeerUnreachable: 'PeerUnreachable',
  /** The peer answered 4xx: it does not take this attestation (revoked, a wrong credential, a key it does not know). */
  PeerRefused: 'PeerRefused',
  /** This pod revoked the peering, or has no credential of the peer's to present. */
  NotPeered: 'NotPeered',
  /** The peer's answer is not a valid countersignature of the attestation sent. */
  BadCountersignature: 'BadCountersignature',
} as const;

export interface FederationTimes {
  /** One call to the peer, or one countersigning. */
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

/** A peer's Schedule's action: this pod (`pod`) attests its chain heads to `peer`. */
export interface AttestationExchangeInput extends FederationTimes {
  pod: string;
  peer: string;
  maxHeads: number;
}

export interface AttestationExchangeOutcome {
  attestationSha256: string;
  heads: number;
  /** When the peer says it received the attestation (its countersignature's `received_at`). */
  receivedAt: string;
}

/** A received attestation, checked by the gateway, for this pod (`pod`) to countersign; the gateway's receipt time is kept through retries. */
export interface CountersignInput {
  pod: string;
  attestation: SignedAttestation;
  receivedAt: string;
}
