/**
 * Audit settings, read by the orchestrator with its other settings: how many
 * succeeded jobs another runner checks, how, and every time bound of a check
 * (so tests use short ones).
 *
 * Rates are basis points internally (integers; 10,000 = every job). In the
 * environment a rate is a fraction ("0.05", "1") or basis points ("500bp").
 */
import type { AuditMethod } from '@trd/protocol';
import { SettingsError, envInt, envString } from '../platform/env.js';

export const ALL_JOBS_BPS = 10_000;

/** Time bounds of one audit, fixed when it starts so its history never depends on later settings. */
export interface AuditLimits {
  /** How long an auditor has to pick the check up from its queue before another is asked. */
  scheduleToStartMs: number;
  heartbeatTimeoutMs: number;
  /** One auditor's check, from pick-up to report. */
  verifyTimeoutMs: number;
  /** The whole audit, waiting for an auditor included: past it, the audit ends unperformed. */
  deadlineMs: number;
  /** Auditors asked in turn before the audit ends unperformed. */
  maxAuditors: number;
  /** Between looks for a free auditor when none is up. */
  auditorWaitMs: number;
}

export interface AuditSettings {
  /** Share of every runner's succeeded jobs audited, in basis points. */
  rateBps: number;
  /** Share of a probation runner's jobs audited (the higher rate). */
  probationRateBps: number;
  /**
   * 'auto': re-execution for seeded sampled jobs, prefill for the rest. On a
   * flat distribution a replayed or padded sample is as likely as an honest
   * one, so no probability check tells them apart; the seed does.
   */
  method: AuditMethodSetting;
  /** For sampled jobs (temperature > 0): a claimed token less likely than this fails the audit. */
  minTokenProbability: number;
  limits: AuditLimits;
}

export type AuditMethodSetting = AuditMethod | 'auto';

/** The method for one job under a setting. */
export function auditMethodFor(setting: AuditMethodSetting, job: { temperature: number; seed?: number }): AuditMethod {
  if (setting !== 'auto') return setting;
  return job.temperature > 0 && job.seed !== undefined ? 'reexecute' : 'prefill';
}

type Env = Record<string, string | undefined>;

/** A rate in basis points, from a fraction in [0, 1] ("0.05") or whole basis points ("500bp"). */
export function parseRate(name: string, raw: string): number {
  const text = raw.trim();
  const bp = /^(\d+)\s*bps?$/i.exec(text);
  if (bp) {
    const value = Number(bp[1]);
    if (value > ALL_JOBS_BPS) throw new SettingsError(`${name} must be at most ${ALL_JOBS_BPS}bp (every job), got ${text}`);
    return value;
  }
  if (/^(0|1)(\.0*)?$|^0?\.\d+$/.test(text)) {
    // Rounded to the basis point: rates are integers from here on.
    return Math.round(Number(text) * ALL_JOBS_BPS);
  }
  throw new SettingsError(`${name} must be a fraction from 0 to 1 (0.05 audits one job in twenty) or basis points (500bp), got ${JSON.stringify(raw)}`);
}

function envRate(env: Env, name: string, fallbackBps: number): number {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallbackBps : parseRate(name, raw);
}

function envProbability(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.trim());
  if (!/^(\d+(\.\d*)?|\.\d+)(e-?\d+)?$/i.test(raw.trim()) || !(value >= 0 && value < 1)) {
    throw new SettingsError(`${name} must be a probability from 0 up to (not including) 1, such as 0.0001, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function auditSettings(env: Env): AuditSettings {
  const method = envString(env, 'TRD_AUDIT_METHOD').trim();
  if (method !== 'prefill' && method !== 'reexecute' && method !== 'auto') {
    throw new SettingsError(
      `TRD_AUDIT_METHOD must be auto (re-execution for seeded sampled jobs, prefill otherwise), prefill (one forward pass over the claimed output) or reexecute (generate again and compare), got ${JSON.stringify(method)}`,
    );
  }
  return {
    rateBps: envRate(env, 'TRD_AUDIT_RATE', 200),
    probationRateBps: envRate(env, 'TRD_AUDIT_PROBATION_RATE', ALL_JOBS_BPS),
    method,
    minTokenProbability: envProbability(env, 'TRD_AUDIT_MIN_TOKEN_PROBABILITY', 1e-5),
    limits: {
      scheduleToStartMs: envInt(env, 'TRD_AUDIT_SCHEDULE_TO_START_MS'),
      heartbeatTimeoutMs: envInt(env, 'TRD_AUDIT_HEARTBEAT_TIMEOUT_MS'),
      verifyTimeoutMs: envInt(env, 'TRD_AUDIT_VERIFY_TIMEOUT_MS'),
      deadlineMs: envInt(env, 'TRD_AUDIT_DEADLINE_MS'),
      maxAuditors: envInt(env, 'TRD_AUDIT_MAX_AUDITORS'),
      auditorWaitMs: envInt(env, 'TRD_AUDIT_AUDITOR_WAIT_MS'),
    },
  };
}

/** The environment that makes auditSettings() read `s` back (the orchestrator run as a process). */
export function auditSettingsEnv(s: AuditSettings): Record<string, string> {
  return {
    TRD_AUDIT_RATE: `${s.rateBps}bp`,
    TRD_AUDIT_PROBATION_RATE: `${s.probationRateBps}bp`,
    TRD_AUDIT_METHOD: s.method,
    TRD_AUDIT_MIN_TOKEN_PROBABILITY: String(s.minTokenProbability),
    TRD_AUDIT_SCHEDULE_TO_START_MS: String(s.limits.scheduleToStartMs),
    TRD_AUDIT_HEARTBEAT_TIMEOUT_MS: String(s.limits.heartbeatTimeoutMs),
    TRD_AUDIT_VERIFY_TIMEOUT_MS: String(s.limits.verifyTimeoutMs),
    TRD_AUDIT_DEADLINE_MS: String(s.limits.deadlineMs),
    TRD_AUDIT_MAX_AUDITORS: String(s.limits.maxAuditors),
    TRD_AUDIT_AUDITOR_WAIT_MS: String(s.limits.auditorWaitMs),
  };
}
