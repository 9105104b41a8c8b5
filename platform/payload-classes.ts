/**
 * Which people may read which sealed payloads in Temporal's UI (the codec
 * server, gateway/codec-server.ts). The UI sends the codec server payloads
 * and a namespace only, never the workflow they came from, so the class is
 * decided when a payload is sealed: the SDK hands the platform's codec the
 * id of the workflow a payload belongs to (its serialization context), the
 * class is named in the payload's metadata and bound into the ciphertext
 * (AES-GCM additional data), so relabelling a customer's prompt as a payout
 * makes it open for nobody, the platform included.
 *
 * A payload with no class (sealed before classes, or by the runner endpoint,
 * which seals what runners report about their customers' jobs) is private:
 * the platform opens it as before, no person does.
 */
import { agentReviewWorkflowId } from '@trd/protocol';
import { FINANCE_ROLE, REVIEWER_ROLE, type AccountRole } from './roles.js';
import { PAYOUT_SCHEDULE_ID } from './workflow-api.js';

export const PAYLOAD_CLASSES = ['payout', 'agent-review', 'private'] as const;
export type PayloadClass = (typeof PAYLOAD_CLASSES)[number];

/** Who opens each class. Private (customers' prompts and outputs, audits, cascades, everything else) opens for no role. */
export const CLASS_READERS: Record<PayloadClass, readonly AccountRole[]> = {
  payout: [FINANCE_ROLE],
  'agent-review': [REVIEWER_ROLE],
  private: [],
};

const AGENT_REVIEW_PREFIX = agentReviewWorkflowId('');

/**
 * The class of a payload of this workflow. The payout settlement runs are the schedule's, named
 * `<schedule id>-<scheduled time>`; an agent review's dry run is an ordinary job (its own
 * `inference-` id), so it stays private like every other job.
 */
export function payloadClassFor(workflowId: string | undefined): PayloadClass {
  if (!workflowId) return 'private';
  if (workflowId === PAYOUT_SCHEDULE_ID || workflowId.startsWith(`${PAYOUT_SCHEDULE_ID}-`)) return 'payout';
  if (workflowId.startsWith(AGENT_REVIEW_PREFIX) && workflowId.length > AGENT_REVIEW_PREFIX.length) return 'agent-review';
  return 'private';
}

/** The class a payload's metadata names, as the codec server reads it: unknown or none is private. */
export function knownClass(name: string | null): PayloadClass {
  return (PAYLOAD_CLASSES as readonly string[]).includes(name ?? '') ? (name as PayloadClass) : 'private';
}

/** The classes these roles open. */
export function classesOpenedBy(roles: readonly string[]): Set<PayloadClass> {
  return new Set(PAYLOAD_CLASSES.filter((c) => CLASS_READERS[c].some((r) => roles.includes(r))));
}
