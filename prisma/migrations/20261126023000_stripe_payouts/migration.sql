
-- AlterTable
ALTER TABLE "customers" ADD COLUMN     "stripe_account_id" TEXT,
ADD COLUMN     "stripe_payouts_enabled" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "ledger_transactions" ADD COLUMN     "note" TEXT;

-- AlterTable
ALTER TABLE "payout_requests" ADD COLUMN     "batch_id" TEXT,
ADD COLUMN     "stripe_transfer_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "customers_stripe_account_id_key" ON "customers"("stripe_account_id");

-- CreateIndex
CREATE INDEX "payout_requests_batch_id_idx" ON "payout_requests"("batch_id");

