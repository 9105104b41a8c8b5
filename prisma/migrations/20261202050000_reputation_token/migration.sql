-- The reputation soulbound token: the platform's own chain transactions other than USDC payouts (token mints,
-- score batches, slashes), each signed once and stored before broadcast like a USDC transfer, and each
-- runner's token as the chain last confirmed it.
CREATE TABLE "chain_transactions" (
    "key" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "chain_id" INTEGER NOT NULL,
    "from_address" TEXT NOT NULL,
    "to_address" TEXT NOT NULL,
    "nonce" INTEGER NOT NULL,
    "raw_tx" TEXT NOT NULL,
    "tx_hash" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'signed',
    "block_number" BIGINT,
    "gas_used" BIGINT,
    "effective_gas_price" BIGINT,
    "detail" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "chain_transactions_pkey" PRIMARY KEY ("key")
);
CREATE UNIQUE INDEX "chain_transactions_tx_hash_key" ON "chain_transactions"("tx_hash");
CREATE INDEX "chain_transactions_chain_id_from_address_status_idx" ON "chain_transactions"("chain_id", "from_address", "status");
CREATE INDEX "chain_transactions_purpose_status_idx" ON "chain_transactions"("purpose", "status");

CREATE TABLE "reputation_tokens" (
    "runner_id" TEXT NOT NULL,
    "chain_id" INTEGER NOT NULL,
    "contract" TEXT NOT NULL,
    "token_id" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'minted',
    "score_bps" INTEGER NOT NULL,
    "tier" INTEGER NOT NULL,
    "receipt_head" TEXT NOT NULL,
    "mint_tx_hash" TEXT,
    "slash_tx_hash" TEXT,
    "minted_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "slashed_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "reputation_tokens_pkey" PRIMARY KEY ("runner_id")
);
