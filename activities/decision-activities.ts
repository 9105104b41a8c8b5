/**
 * Signing the platform's recorded decisions about runners into each runner's chain
 * (protocol/runner-decision.ts): oldest first, numbered after the runner's last signed one and naming its hash.
 * One runner at a time under a transaction-scoped advisory lock, so two orchestrators never give two decisions
 * one number; a decision signed is never signed again.
 */
import { decisionSha256, signDecision, type DecisionKind } from '@trd/protocol';
import type { Signer } from '../orchestrator/signing-keys.js';
import type { Db } from '../platform/db.js';

/** At most this many runners' pending decisions per run; the next run takes the rest. */
const RUNNERS_PER_RUN = 200;

export function createDecisionActivities(deps: { db: Db; signer: Signer }) {
  const { db, signer } = deps;
  return {
    async signRunnerDecisions(): Promise<{ signed: number; runners: number }> {
      const pending = await db.runnerDecision.findMany({ where: { seq: null }, distinct: ['runnerId'], select: { runnerId: true }, orderBy: { runnerId: 'asc' }, take: RUNNERS_PER_RUN });
      let signed = 0;
      for (const { runnerId } of pending) {
        signed += await db.$transaction(async (tx) => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`runner-decisions:${runnerId}`}))`;
          const last = await tx.runnerDecision.findFirst({ where: { runnerId, seq: { not: null } }, orderBy: { seq: 'desc' }, select: { seq: true, sha256: true } });
          const rows = await tx.runnerDecision.findMany({ where: { runnerId, seq: null }, orderBy: { id: 'asc' } });
          const { key } = await signer.active();
          let seq = last?.seq ?? 0;
          let prev = last?.sha256 ?? null;
          for (const r of rows) {
            seq++;
            const decision = await signDecision(
              { runner_id: runnerId, seq, prev_sha256: prev, kind: r.kind as DecisionKind, detail: r.detail as Record<string, string | number | boolean | null>, decided_at: r.decidedAt.toISOString() },
              key.secretKey,
            );
            prev = await decisionSha256(decision.envelope);
            await tx.runnerDecision.update({ where: { id: r.id }, data: { seq, document: decision as object, sha256: prev } });
          }
          return rows.length;
        });
      }
      return { signed, runners: pending.length };
    },
  };
}

export type DecisionActivities = ReturnType<typeof createDecisionActivities>;
