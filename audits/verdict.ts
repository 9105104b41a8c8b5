/**
 * Reading an auditor's report: whether it can be used at all (else another
 * auditor is asked), and the verdict with its evidence in words the owner
 * reads. Pure, so the audit workflow can run the first check itself.
 */
import type { VerifyReport, VerifyTask } from '@trd/protocol';
import { refusedPayloadReason } from '@trd/protocol/inference';

/** What is wrong with the report itself (not with the audited runner), or null. */
export function reportProblem(task: VerifyTask, report: VerifyReport, auditorId: string, catalogSha256: string | null): string | null {
  if (!report || typeof report !== 'object') return 'the auditor sent no report';
  const refused = refusedPayloadReason(report);
  if (refused !== null) return refused;
  if (report.auditId !== task.auditId) return `report is for audit ${JSON.stringify(report.auditId)}, not ${task.auditId}`;
  if (report.auditorId !== auditorId) return `report is signed off by ${JSON.stringify(report.auditorId)}, not the auditor asked (${auditorId})`;
  if (report.method !== task.method) return `report used method ${JSON.stringify(report.method)}, not ${task.method}`;
  if (typeof report.passed !== 'boolean') return 'report has no verdict';
  if (!report.passed && (typeof report.reason !== 'string' || !report.reason)) return 'a failed check must say why';
  if (!Number.isSafeInteger(report.tokensChecked) || report.tokensChecked < 0) return 'tokens checked is not a count';
  if (!Number.isFinite(report.verifyMs) || report.verifyMs < 0) return 'verify time is not a duration';
  const m = report.mismatch;
  if (m !== null && m !== undefined) {
    if (!Number.isSafeInteger(m.tokenIndex) || m.tokenIndex < 0) return 'mismatch token index is not a position';
    if (typeof m.claimedToken !== 'string' || typeof m.expectedToken !== 'string') return 'mismatch tokens are not text';
    if (!Number.isSafeInteger(m.textOffset) || m.textOffset < 0) return 'mismatch text offset is not a position';
    const p = m.claimedProbability;
    if (p !== null && (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1)) return 'mismatch probability is not a probability';
  }
  if (catalogSha256 && report.auditorModelSha256 !== catalogSha256) {
    return `the auditor's model file (${report.auditorModelSha256}) is not the catalog's (${catalogSha256})`;
  }
  return null;
}

export interface AuditEvidence {
  method: VerifyTask['method'];
  auditorId: string;
  passed: boolean;
  reason: string | null;
  tokensChecked: number;
  /** The first claimed token that fails, with the model's choice there. */
  mismatch: VerifyReport['mismatch'];
  claimedModelSha256: string;
  auditorModelSha256: string;
  claimedCompletionTokens: number;
  minTokenProbability: number;
  verifyMs: number;
}

export interface AuditVerdict {
  passed: boolean;
  /** One line for the owner. */
  detail: string;
  evidence: AuditEvidence;
}

function quoted(token: string): string {
  return JSON.stringify(token);
}

/** The audited runner's verdict: the auditor's, and the claimed model file must be the auditor's. */
export function auditVerdict(task: VerifyTask, report: VerifyReport): AuditVerdict {
  const sameModel = task.claimed.modelSha256 === report.auditorModelSha256;
  const passed = report.passed && sameModel;
  const evidence: AuditEvidence = {
    method: task.method,
    auditorId: report.auditorId,
    passed,
    reason: passed ? null : report.passed ? `the claimed model file ${task.claimed.modelSha256} is not the auditor's ${report.auditorModelSha256}` : report.reason,
    tokensChecked: report.tokensChecked,
    mismatch: report.mismatch ?? null,
    claimedModelSha256: task.claimed.modelSha256,
    auditorModelSha256: report.auditorModelSha256,
    claimedCompletionTokens: task.claimed.completionTokens,
    minTokenProbability: task.minTokenProbability,
    verifyMs: Math.round(report.verifyMs),
  };
  const how = task.method === 'prefill' ? 'prefill check' : 're-execution';
  if (passed) {
    return { passed, detail: `${how} by ${report.auditorId} passed: ${report.tokensChecked} claimed token(s) checked in ${evidence.verifyMs} ms`, evidence };
  }
  const parts = [`${how} by ${report.auditorId} failed: ${evidence.reason}`];
  if (!sameModel && !report.passed) parts.push(`claimed model file ${task.claimed.modelSha256}, the auditor's is ${report.auditorModelSha256}`);
  const m = report.mismatch;
  if (m) {
    const p = m.claimedProbability === null ? '' : ` (probability ${m.claimedProbability.toPrecision(3)})`;
    const expected = task.method === 'prefill' ? "the model's choice" : 'regenerated';
    parts.push(`first wrong token at index ${m.tokenIndex} (character ${m.textOffset}): claimed ${quoted(m.claimedToken)}${p}, ${expected} ${quoted(m.expectedToken)}`);
  }
  return { passed, detail: parts.join('; '), evidence };
}
