/**
 * Recording a platform decision about a runner where it is made (the reputation sweep, a job's move, a heartbeat,
 * the warm pool): a row, once per dedupe key, that an orchestrator signs as the runner's next link
 * (activities/decision-activities.ts; the document is protocol/runner-decision.ts).
 */
import type { DecisionKind } from '@trd/protocol';
import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from './db.js';

export interface DecisionRecord {
  runnerId: string;
  kind: DecisionKind;
  /** Makes the decision one: recorded again (a retry, another replica), it changes nothing. */
  key: string;
  detail: Record<string, string | number | boolean | null>;
  at: Date;
}

/** The row of a decision (for a write batched with others). */
export function decisionRow(d: DecisionRecord) {
  return { runnerId: d.runnerId, kind: d.kind, dedupeKey: d.key, detail: d.detail, decidedAt: d.at };
}

export async function recordDecisions(db: Pick<Db, 'runnerDecision'> | Prisma.TransactionClient, decisions: DecisionRecord[]): Promise<void> {
  if (!decisions.length) return;
  await db.runnerDecision.createMany({ data: decisions.map(decisionRow), skipDuplicates: true });
}
