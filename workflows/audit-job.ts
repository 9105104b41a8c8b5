/**
 * One audit of one succeeded job: another runner (a trusted one, else a
 * verified one, never the one audited) checks the claimed output with the
 * job's model, prompt and sampling settings (protocol/audit.ts), and the
 * verdict is recorded with its evidence and feeds the runner's reputation.
 * Started by the activity that records a succeeded job, for the share of jobs
 * the audit rate samples; the job's own workflow never waits for it.
 *
 * An auditor that does not pick the check up in time, fails, or sends a
 * report that cannot be read is passed over for another. No auditor within
 * the deadline (or after `maxAuditors` were asked) leaves the job unaudited:
 * neither a pass nor a failure.
 */
import { ActivityFailure, TimeoutFailure, proxyActivities, sleep } from '@temporalio/workflow';
import type { AuditorActivities } from '@trd/protocol';
import { catalogSha256 } from '@trd/protocol/model-keys';
import { runnerQueue } from '@trd/protocol/queues';
import type { AuditActivities } from '../activities/audit-activities.js';
import { reportProblem } from '../audits/verdict.js';
import { auditWorkflowId, type AuditInput, type AuditOutcome } from '../platform/workflow-api.js';
import { rootMessage } from './failures.js';

/** The longest wait between looks for an auditor, in multiples of `auditorWaitMs`. */
const MAX_WAIT_FACTOR = 8;

const audits = proxyActivities<AuditActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export async function auditJob(input: AuditInput): Promise<AuditOutcome> {
  const limits = input.limits;
  const deadline = Date.now() + limits.deadlineMs;
  const loaded = await audits.loadAuditTask({ auditId: auditWorkflowId(input.jobId), ...input });
  if ('problem' in loaded) return { status: 'not-performed', reason: loaded.problem };
  const task = loaded.task;
  const pinnedSha256 = catalogSha256(input.model);

  /** Auditors already asked; forgotten when no other is up, so one that was busy may be asked again after the wait. */
  const asked = new Set<string>();
  const problems: string[] = [];
  let attempts = 0;
  let waitMs = limits.auditorWaitMs;
  while (attempts < limits.maxAuditors && Date.now() < deadline) {
    const auditor = await audits.pickAuditor({ model: input.model, exclude: [input.auditedWorkerId, ...asked] });
    if (!auditor) {
      asked.clear();
      // Looks less often the longer none is up: a network without trusted runners keeps its waiting audits cheap.
      await sleep(Math.min(waitMs, Math.max(1, deadline - Date.now())));
      waitMs = Math.min(waitMs * 2, limits.auditorWaitMs * MAX_WAIT_FACTOR);
      continue;
    }
    attempts++;
    waitMs = limits.auditorWaitMs;
    asked.add(auditor);
    const runner = proxyActivities<AuditorActivities>({
      taskQueue: runnerQueue(auditor),
      scheduleToStartTimeout: limits.scheduleToStartMs,
      startToCloseTimeout: limits.verifyTimeoutMs,
      heartbeatTimeout: limits.heartbeatTimeoutMs,
      // Another auditor, not the same one again.
      retry: { maximumAttempts: 1 },
    });
    try {
      const report = await runner.verifyInference(task);
      const problem = reportProblem(task, report, auditor, pinnedSha256);
      if (problem) {
        problems.push(`${auditor}: ${problem}`);
        continue;
      }
      const verdict = await audits.recordAudit({ task, report });
      return { status: verdict.passed ? 'passed' : 'failed', auditorId: auditor, detail: verdict.detail };
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const timedOut = err.cause instanceof TimeoutFailure ? err.cause.timeoutType : null;
      problems.push(`${auditor}: ${timedOut === 'SCHEDULE_TO_START' ? 'did not pick the check up in time' : rootMessage(err)}`);
    }
  }
  return {
    status: 'not-performed',
    reason: attempts ? `no auditor completed the check (${problems.join('; ')})` : 'no auditor for the model was up before the deadline',
  };
}
