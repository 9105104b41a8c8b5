/**
 * Roles an account holds beyond its own jobs (the `account_roles` table), granted by an operator
 * (`scripts/grant-role.ts`): `reviewer` decides agent submissions (never its own) and reads agent
 * reviews' histories in Temporal's UI; `finance` reads the payout settlement histories there;
 * `operator` manages the pod's federation peers.
 */
import type { Db } from './db.js';

export const REVIEWER_ROLE = 'reviewer';
export const FINANCE_ROLE = 'finance';
/** Manages the pod's federation peers (gateway/federation.ts): who approved and who revoked each peering is kept. */
export const OPERATOR_ROLE = 'operator';
export const ACCOUNT_ROLES = [REVIEWER_ROLE, FINANCE_ROLE, OPERATOR_ROLE] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export function isAccountRole(name: string): name is AccountRole {
  return (ACCOUNT_ROLES as readonly string[]).includes(name);
}

export async function rolesOf(db: Db, customerId: string): Promise<AccountRole[]> {
  const rows = await db.accountRole.findMany({ where: { customerId }, select: { role: true }, orderBy: { role: 'asc' } });
  return rows.map((r) => r.role).filter(isAccountRole);
}

export async function grantRole(db: Db, customerId: string, role: AccountRole): Promise<void> {
  await db.accountRole.createMany({ data: [{ customerId, role }], skipDuplicates: true });
}
