export { inferenceJob } from './inference-job.js';
export { receiptChain } from './receipt-chain.js';
export { pinReceipt } from './pin-receipt.js';
export { payoutSettlement } from './payout-settlement.js';
export { reputationSweep } from './reputation-sweep.js';
export { auditJob } from './audit-job.js';
export { agentReview } from './agent-review.js';
export { attestationExchange, countersignAttestation } from './federation.js';
export { warmPoolCredits } from './warm-pool.js';
