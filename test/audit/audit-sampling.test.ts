/**
 * The pure parts of audits: the settings (rates as fractions or basis points,
 * clear errors), the sample (a keyed hash of the job id: the same answer on a
 * retry, the stated share over many jobs, unguessable without the key), and
 * the verdict read from an auditor's report.
 */
import { describe, expect, test } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import type { VerifyReport, VerifyTask } from '@trd/protocol';
import { auditRateBps, auditBucket, isSampled, samplingKey } from '../../audits/sampling.js';
import { auditMethodFor, auditSettings, auditSettingsEnv, parseRate } from '../../audits/settings.js';
import { auditVerdict, reportProblem } from '../../audits/verdict.js';

describe('audit settings', () => {
  test('defaults: 2% of jobs, every job of a runner on probation, by prefill', () => {
    expect(auditSettings({})).toMatchObject({ rateBps: 200, probationRateBps: 10_000, method: 'auto', minTokenProbability: 1e-5 });
  });

  test('a rate is a fraction or basis points', () => {
    expect(parseRate('R', '0.05')).toBe(500);
    expect(parseRate('R', '.5')).toBe(5000);
    expect(parseRate('R', '1')).toBe(10_000);
    expect(parseRate('R', '0')).toBe(0);
    expect(parseRate('R', '250bp')).toBe(250);
    expect(parseRate('R', '10000bps')).toBe(10_000);
  });

  test.each(['5', '1.5', '-0.1', '5%', 'lots', '10001bp', '0.05.1'])('rate %j is refused with a message naming the variable', (raw) => {
    expect(() => auditSettings({ TRD_AUDIT_RATE: raw })).toThrow(/^TRD_AUDIT_RATE must be/);
  });

  test('bad method, probability and bounds are refused', () => {
    expect(() => auditSettings({ TRD_AUDIT_METHOD: 'vibes' })).toThrow(/TRD_AUDIT_METHOD must be auto .*, prefill .* or reexecute/);
    expect(() => auditSettings({ TRD_AUDIT_MIN_TOKEN_PROBABILITY: '1' })).toThrow(/TRD_AUDIT_MIN_TOKEN_PROBABILITY must be a probability/);
    expect(() => auditSettings({ TRD_AUDIT_MIN_TOKEN_PROBABILITY: 'NaN' })).toThrow(/TRD_AUDIT_MIN_TOKEN_PROBABILITY/);
    expect(() => auditSettings({ TRD_AUDIT_SCHEDULE_TO_START_MS: '5' })).toThrow(/TRD_AUDIT_SCHEDULE_TO_START_MS must be between 100/);
    expect(() => auditSettings({ TRD_AUDIT_MAX_AUDITORS: '0' })).toThrow(/TRD_AUDIT_MAX_AUDITORS/);
  });

  test('the environment written for a process reads back the same settings', () => {
    const s = auditSettings({ TRD_AUDIT_RATE: '0.3', TRD_AUDIT_PROBATION_RATE: '0.75', TRD_AUDIT_METHOD: 'reexecute', TRD_AUDIT_MIN_TOKEN_PROBABILITY: '0.00002', TRD_AUDIT_DEADLINE_MS: '5000' });
    expect(s).toMatchObject({ rateBps: 3000, probationRateBps: 7500, method: 'reexecute', minTokenProbability: 0.00002 });
    expect(auditSettings(auditSettingsEnv(s))).toEqual(s);
  });
});

describe('the sample', () => {
  const key = samplingKey(randomBytes(32));
  const ids = Array.from({ length: 10_000 }, () => `job_${randomUUID().replace(/-/g, '')}`);

  test('the same job gets the same answer every time (a retried activity decides the same)', () => {
    for (const id of ids.slice(0, 100)) expect(isSampled(key, id, 500)).toBe(isSampled(key, id, 500));
  });

  test('the share sampled is the rate, within sampling error', () => {
    for (const bps of [0, 200, 2500, 10_000]) {
      const share = ids.filter((id) => isSampled(key, id, bps)).length / ids.length;
      // Four standard deviations of a binomial share over 10,000 jobs.
      const tolerance = 4 * Math.sqrt(((bps / 10_000) * (1 - bps / 10_000)) / ids.length);
      expect(Math.abs(share - bps / 10_000)).toBeLessThanOrEqual(tolerance);
    }
  });

  test('another key samples other jobs: without the key a runner cannot tell which of its jobs are checked', () => {
    const other = samplingKey(randomBytes(32));
    const same = ids.filter((id) => auditBucket(key, id) === auditBucket(other, id)).length;
    expect(same / ids.length).toBeLessThan(0.01);
  });

  test('a runner on probation (or unknown) is audited at the higher rate', () => {
    const s = { rateBps: 200, probationRateBps: 10_000 };
    expect(auditRateBps(s, 'probation')).toBe(10_000);
    expect(auditRateBps(s, null)).toBe(10_000);
    expect(auditRateBps(s, 'verified')).toBe(200);
    expect(auditRateBps(s, 'trusted')).toBe(200);
    // A probation rate set below the base rate never audits a new runner less than an established one.
    expect(auditRateBps({ rateBps: 3000, probationRateBps: 1000 }, 'probation')).toBe(3000);
  });
});

describe('the method', () => {
  test('auto: re-execution for a seeded sampled job (only the seed tells a plausible replay from an honest sample), prefill for the rest', () => {
    expect(auditMethodFor('auto', { temperature: 0.7, seed: 42 })).toBe('reexecute');
    expect(auditMethodFor('auto', { temperature: 0.7 })).toBe('prefill');
    expect(auditMethodFor('auto', { temperature: 0, seed: 42 })).toBe('prefill');
    expect(auditMethodFor('prefill', { temperature: 0.7, seed: 42 })).toBe('prefill');
    expect(auditMethodFor('reexecute', { temperature: 0 })).toBe('reexecute');
  });
});

describe('the verdict', () => {
  const sha = 'a'.repeat(64);
  const task: VerifyTask = {
    auditId: 'audit:job_1',
    jobId: 'job_1',
    auditedWorkerId: 'cheat',
    method: 'prefill',
    task: { jobId: 'job_1', model: 'trd-tiny', prompt: 'hi', maxTokens: 8, temperature: 0 },
    claimed: { text: 'hello there', completionTokens: 3, finishReason: 'stop', modelSha256: sha },
    minTokenProbability: 1e-5,
  };
  const pass: VerifyReport = { auditId: 'audit:job_1', auditorId: 'auditor', method: 'prefill', passed: true, reason: null, tokensChecked: 3, mismatch: null, auditorModelSha256: sha, verifyMs: 12.4 };
  const fail: VerifyReport = {
    ...pass,
    passed: false,
    reason: 'claimed token 1 is not the greedy choice',
    mismatch: { tokenIndex: 1, textOffset: 5, claimedToken: ' there', expectedToken: ' world', claimedProbability: 0.0000123 },
  };

  test('a passed check passes, with the evidence', () => {
    expect(reportProblem(task, pass, 'auditor', sha)).toBeNull();
    const v = auditVerdict(task, pass);
    expect(v).toMatchObject({ passed: true, evidence: { method: 'prefill', auditorId: 'auditor', tokensChecked: 3, verifyMs: 12 } });
    expect(v.detail).toBe('prefill check by auditor passed: 3 claimed token(s) checked in 12 ms');
  });

  test('a failed check names the first wrong token, the model\'s choice and the probability', () => {
    const v = auditVerdict(task, fail);
    expect(v.passed).toBe(false);
    expect(v.evidence.mismatch).toEqual(fail.mismatch);
    expect(v.detail).toBe('prefill check by auditor failed: claimed token 1 is not the greedy choice; first wrong token at index 1 (character 5): claimed " there" (probability 0.0000123), the model\'s choice " world"');
  });

  test('a claimed model file other than the auditor\'s fails even when the tokens check out', () => {
    const v = auditVerdict({ ...task, claimed: { ...task.claimed, modelSha256: 'b'.repeat(64) } }, pass);
    expect(v.passed).toBe(false);
    expect(v.detail).toMatch(/the claimed model file b{64} is not the auditor's a{64}/);
  });

  test('a report that cannot be used is the auditor\'s problem, not the audited runner\'s', () => {
    expect(reportProblem(task, { ...pass, auditId: 'audit:other' }, 'auditor', sha)).toMatch(/not audit:job_1/);
    expect(reportProblem(task, pass, 'someone-else', sha)).toMatch(/not the auditor asked/);
    expect(reportProblem(task, { ...pass, method: 'reexecute' }, 'auditor', sha)).toMatch(/method/);
    expect(reportProblem(task, { ...fail, reason: null }, 'auditor', sha)).toMatch(/must say why/);
    expect(reportProblem(task, { ...fail, mismatch: { ...fail.mismatch!, claimedProbability: 2 } }, 'auditor', sha)).toMatch(/probability/);
    expect(reportProblem(task, { ...fail, mismatch: { ...fail.mismatch!, claimedProbability: null } }, 'auditor', sha)).toBeNull();
    expect(reportProblem(task, { ...fail, mismatch: { ...fail.mismatch!, textOffset: -1 } }, 'auditor', sha)).toMatch(/offset/);
    expect(reportProblem(task, { ...pass, auditorModelSha256: 'c'.repeat(64) }, 'auditor', sha)).toMatch(/not the catalog's/);
    expect(reportProblem(task, null as unknown as VerifyReport, 'auditor', sha)).toMatch(/no report/);
  });
});
