/**
 * A runner's reputation and trust tier. The formula, stated once (the README
 * repeats it):
 *
 *   score = round(45·S + 20·U + 15·L + 20·A), 0–100, where
 *   S  success rate: (jobs completed + 1) / (jobs completed + attempts refused + 1), last 30 days
 *   U  uptime: minutes with a heartbeat / minutes since it joined, over the last 7 days
 *   L  latency: the p99 time per token of its class (median of its class's runners) / its own p99, at most 1
 *   A  audits: (passed + 2) / (passed + failed + 2), last 90 days; no audits counts as clean
 *
 * Tiers: Probation (new) → Verified at score ≥ 80 with enough jobs and age and
 * no failed audit for 7 days → Trusted at score ≥ 95 with more jobs and a
 * 90-day clean audit record (the Verified badge's countdown). Scores below a
 * tier's floor, or a failed audit within its clean period, demote (age alone never does); below the shadowban floor the runner gets no new jobs
 * and is told why, until its score recovers.
 */
import type { TrustTier } from '@trd/protocol';
import { envInt, settingsEnv } from '../platform/env.js';
import type { TokenLimits } from '../platform/workflow-api.js';

export interface ReputationInputs {
  completed: number;
  refused: number;
  uptimeMinutes: number;
  expectedMinutes: number;
  p99MsPerToken: number | null;
  classP99MsPerToken: number | null;
  auditsPassed: number;
  auditsFailed: number;
}

export function reputationScore(i: ReputationInputs): number {
  const s = (i.completed + 1) / (i.completed + i.refused + 1);
  const u = i.expectedMinutes > 0 ? Math.min(1, i.uptimeMinutes / i.expectedMinutes) : 1;
  const l = i.p99MsPerToken && i.classP99MsPerToken ? Math.min(1, i.classP99MsPerToken / i.p99MsPerToken) : 1;
  const a = (i.auditsPassed + 2) / (i.auditsPassed + i.auditsFailed + 2);
  return Math.round(45 * s + 20 * u + 15 * l + 20 * a);
}

/** Days without a failed audit: the Verified badge, and a condition of Trusted. */
export const CLEAN_AUDIT_DAYS = 90;

export interface TierPolicy {
  verifiedMinScore: number;
  verifiedMinJobs: number;
  verifiedMinAgeDays: number;
  trustedMinScore: number;
  trustedMinJobs: number;
  /** Days without a failed audit for Trusted: the Verified badge. */
  cleanAuditDays: number;
  /** Below these, a runner drops a tier. */
  trustedFloor: number;
  verifiedFloor: number;
  /** Below this, no new jobs; lifted at `shadowbanLift`. */
  shadowbanFloor: number;
  shadowbanLift: number;
}

export function tierPolicy(env: Record<string, string | undefined>): TierPolicy {
  return {
    verifiedMinScore: 80,
    verifiedMinJobs: envInt(env, 'TRD_VERIFIED_MIN_JOBS'),
    verifiedMinAgeDays: 7,
    trustedMinScore: 95,
    trustedMinJobs: envInt(env, 'TRD_TRUSTED_MIN_JOBS'),
    cleanAuditDays: CLEAN_AUDIT_DAYS,
    trustedFloor: 90,
    verifiedFloor: 70,
    shadowbanFloor: 50,
    shadowbanLift: 60,
  };
}

export interface Standing {
  score: number;
  jobs: number;
  ageDays: number;
  /** Days since the last failed audit, or since the runner joined if it never failed one. */
  cleanDays: number;
  /** Days since the last failed audit; null if it never failed one (age alone never demotes). */
  failedAuditDaysAgo: number | null;
}

export interface TierDecision {
  tier: TrustTier;
  shadowbannedReason: string | null;
  /** Days left to the 90-day clean-audit badge; 0 once earned. */
  badgeCountdownDays: number;
}

export function decideTier(current: TrustTier, shadowbanned: string | null, st: Standing, p: TierPolicy): TierDecision {
  let tier = current;
  const failedWithin = (days: number) => st.failedAuditDaysAgo !== null && st.failedAuditDaysAgo < days;
  if (tier === 'trusted' && (st.score < p.trustedFloor || failedWithin(p.cleanAuditDays))) tier = 'verified';
  if (tier === 'verified' && (st.score < p.verifiedFloor || failedWithin(7))) tier = 'probation';
  if (tier === 'probation' && tier === current && st.score >= p.verifiedMinScore && st.jobs >= p.verifiedMinJobs && st.ageDays >= p.verifiedMinAgeDays && st.cleanDays >= 7) tier = 'verified';
  if (tier === 'verified' && current !== 'trusted' && st.score >= p.trustedMinScore && st.jobs >= p.trustedMinJobs && st.cleanDays >= p.cleanAuditDays) tier = 'trusted';
  let reason = shadowbanned;
  if (st.score < p.shadowbanFloor) reason = `reputation ${st.score} is below ${p.shadowbanFloor}: too many refused results or failed audits`;
  else if (reason && st.score >= p.shadowbanLift) reason = null;
  return { tier, shadowbannedReason: reason, badgeCountdownDays: Math.max(0, Math.ceil(p.cleanAuditDays - st.cleanDays)) };
}

export interface ReputationSettings {
  policy: TierPolicy;
  /** The soulbound token's chain steps in each sweep, and the most runners one updateBatch carries. */
  token: TokenLimits & { batchMax: number };
  /** How often every runner's reputation is recomputed (its Temporal Schedule). */
  sweepIntervalMs: number;
  /** How often recorded decisions about runners are signed into their chains (the runner-decisions Schedule). */
  decisionsSignEveryMs: number;
  /** The bench challenge each sweep sends every runner that is up. */
  challenge: { maxTokens: number; waitMs: number; timeoutMs: number };
}

export function reputationSettings(env: Record<string, string | undefined>): ReputationSettings {
  return {
    policy: tierPolicy(env),
    sweepIntervalMs: envInt(env, 'TRD_REPUTATION_INTERVAL_MS'),
    decisionsSignEveryMs: envInt(env, 'TRD_DECISIONS_SIGN_EVERY_MS'),
    token: {
      pollMs: envInt(env, 'TRD_REPUTATION_TOKEN_POLL_MS'),
      stepTimeoutMs: envInt(env, 'TRD_REPUTATION_TOKEN_STEP_TIMEOUT_MS'),
      budgetMs: envInt(env, 'TRD_REPUTATION_TOKEN_BUDGET_MS'),
      maxAttempts: envInt(env, 'TRD_REPUTATION_TOKEN_ATTEMPTS'),
      batchMax: envInt(env, 'TRD_REPUTATION_TOKEN_BATCH_MAX'),
    },
    challenge: {
      maxTokens: envInt(env, 'TRD_CHALLENGE_MAX_TOKENS'),
      waitMs: envInt(env, 'TRD_CHALLENGE_WAIT_MS'),
      timeoutMs: envInt(env, 'TRD_CHALLENGE_TIMEOUT_MS'),
    },
  };
}

/** The environment that gives an orchestrator these settings (every declaration `at` a reputation field). */
export function reputationSettingsEnv(s: ReputationSettings): Record<string, string> {
  return settingsEnv('reputation', s);
}
