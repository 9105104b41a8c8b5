/**
 * The contract of an audit: the platform asks a trusted runner, other than
 * the one that did the job, to check a claimed output. Two methods:
 *  - 'prefill': one forward pass over prompt + claimed output; every claimed
 *    token must be the model's greedy choice (temperature 0) or at least
 *    `minTokenProbability` likely under the job's sampling settings. No
 *    sequential decode, so it costs a fraction of the generation.
 *  - 'reexecute': generate again with the same model, seed and sampling
 *    settings and compare the text.
 * Workflows import these types only; the runner implements verifyInference.
 */
import type { SignedDispatch } from './dispatch.js';
import type { InferenceTask } from './inference.js';

export type AuditMethod = 'prefill' | 'reexecute';

export interface VerifyTask {
  auditId: string;
  /** The job under audit, and the runner that did it (the auditor is another one). */
  jobId: string;
  auditedWorkerId: string;
  method: AuditMethod;
  /** The job as the original runner got it: model, prompt (and format), sampling settings, max tokens, stop strings. */
  task: Pick<InferenceTask, 'jobId' | 'model' | 'prompt' | 'promptFormat' | 'maxTokens' | 'temperature' | 'topP' | 'seed' | 'stop'>;
  /** What the audited runner claimed. */
  claimed: { text: string; completionTokens: number; finishReason: 'length' | 'stop'; modelSha256: string };
  /** For sampled jobs (temperature > 0): a claimed token less likely than this fails the audit. */
  minTokenProbability: number;
  /** The platform's signature over this check (protocol/dispatch.ts: job_id is the audit id); auditors refuse it without. */
  dispatch?: SignedDispatch;
}

/**
 * A threshold for sampled jobs. The runner's sampler never draws a token its
 * top-k/top-p cut removed (those score 0, whatever the threshold), and within
 * the cut an honest token falls below p with probability at most the mass
 * below p. Measured on the tiny model (scripts/bench-audit.ts, 6,400 sampled
 * positions at temperatures 0.3-1.5): an honest token falls below 1e-3 about
 * 1.3 times per 1,000 tokens, below 1e-4 about 7 times per million, below 1e-5
 * never. Cheats were caught by tokens scoring 0 or by the whole output's
 * likelihood, not by this threshold.
 */
export const RECOMMENDED_MIN_TOKEN_PROBABILITY = 1e-5;

export interface VerifyMismatch {
  /**
   * Index of the first claimed token that fails: in the token path the auditor
   * reconstructs for the claimed text (prefill), or in the auditor's own
   * regeneration (re-execution).
   */
  tokenIndex: number;
  /** Character offset in the claimed text where it departs from what the model does. */
  textOffset: number;
  /** The claimed text at that point ('' when the claim ends there). */
  claimedToken: string;
  /** The model's greedy choice at that position (prefill), or the regenerated text there (re-execution). */
  expectedToken: string;
  /** Probability of the claimed token under the job's sampling settings; null for re-execution, which scores nothing. */
  claimedProbability: number | null;
}

/** Heartbeat details of an auditor while it checks a claim. */
export interface VerifyProgress {
  workerId: string;
  phase: 'loading' | 'waiting' | 'verifying';
  tokensChecked: number;
}

export interface VerifyReport {
  auditId: string;
  auditorId: string;
  method: AuditMethod;
  passed: boolean;
  /** Why it failed, in words the owner reads (the evidence); null when it passed. */
  reason: string | null;
  tokensChecked: number;
  mismatch: VerifyMismatch | null;
  /** The auditor's model file hash: the claimed modelSha256 must equal it. */
  auditorModelSha256: string;
  /** Wall time of the check on the auditor (prefill or regeneration), ms. */
  verifyMs: number;
}

export interface AuditorActivities {
  verifyInference(task: VerifyTask): Promise<VerifyReport>;
}
