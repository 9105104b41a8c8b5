-- USDC payouts: each owner's payout rail (a change waits out a delay), the rail and address a batch fixed
-- for each payout, and each USDC payout's one signed transaction, stored before it is broadcast.
ALTER TABLE "payout_requests" ADD COLUMN "rail" TEXT;
ALTER TABLE "payout_requests" ADD COLUMN "usdc_address" TEXT;

CREATE TABLE "payout_rails" (
    "owner_id" TEXT NOT NULL,
    "rail" TEXT NOT NULL DEFAULT 'stripe',
    "usdc_address" TEXT,
    "pending_rail" TEXT,
    "pending_usdc_address" TEXT,
    "pending_effective_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "payout_rails_pkey" PRIMARY KEY ("owner_id")
);

CREATE TABLE "usdc_transfers" (
    "payout_id" TEXT NOT NULL,
    "chain_id" INTEGER NOT NULL,
    "from_address" TEXT NOT NULL,
    "to_address" TEXT NOT NULL,
    "amount_base_units" BIGINT NOT NULL,
    "nonce" INTEGER NOT NULL,
    "raw_tx" TEXT NOT NULL,
    "tx_hash" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'signed',
    "block_number" BIGINT,
    "gas_used" BIGINT,
    "effective_gas_price" BIGINT,
    "detail" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "usdc_transfers_pkey" PRIMARY KEY ("payout_id")
);
CREATE UNIQUE INDEX "usdc_transfers_tx_hash_key" ON "usdc_transfers"("tx_hash");
CREATE INDEX "usdc_transfers_chain_id_from_address_status_idx" ON "usdc_transfers"("chain_id", "from_address", "status");
