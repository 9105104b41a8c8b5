/** Ids and the business-key workflow ids derived from them. Not for workflow code (uses randomness). */

export const JOB_ID_PATTERN = /^job_[0-9a-f]{32}$/;

/** An agent's slug (protocol/agent.ts): safe in URLs, workflow ids, MCP tool names and receipts. */
export const AGENT_SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,47}$/;

export function newJobId(): string {
  return `job_${globalThis.crypto.randomUUID().replace(/-/g, '')}`;
}

/** One workflow per job: starting it twice cannot create two. */
export function workflowIdForJob(jobId: string): string {
  return `inference-${jobId}`;
}
