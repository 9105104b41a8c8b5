/** Ids and the business-key workflow ids derived from them. Not for workflow code (uses randomness). */

const JOB_ID = /^job_[0-9a-f]{32}$/;

export function newJobId(): string {
  return `job_${globalThis.crypto.randomUUID().replace(/-/g, '')}`;
}

export function isJobId(value: string): boolean {
  return JOB_ID.test(value);
}

/** One workflow per job: starting it twice cannot create two. */
export function workflowIdForJob(jobId: string): string {
  return `inference-${jobId}`;
}
