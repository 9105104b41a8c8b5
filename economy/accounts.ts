/** Ledger account names that modules below the ledger need too (economy/ledger.ts lists every account). */
export const runnerAccount = (workerId: string) => `runner:${workerId}`;
export const ownerAccount = (customerId: string) => `owner:${customerId}`;
