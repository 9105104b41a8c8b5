/** Ids and the business-key workflow ids derived from them. Not for workflow code (uses randomness). */

export const JOB_ID_PATTERN = /^job_[0-9a-f]{32}$/;

export function newJobId(): string {
  return `job_${globalThis.crypto.randomUUID().replace(/-/g, '')}`;
}

/** One workflow per job: starting it twice cannot create two. */
export function workflowIdForJob(jobId: string): string {
  return `inference-${jobId}`;
}
