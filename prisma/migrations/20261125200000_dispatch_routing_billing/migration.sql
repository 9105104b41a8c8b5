-- CreateEnum
CREATE TYPE "TrustTier" AS ENUM ('probation', 'verified', 'trusted');

-- AlterEnum
ALTER TYPE "JobStatus" ADD VALUE 'cancelled';

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "billable_ms" INTEGER,
ADD COLUMN     "charge_microcredits" BIGINT,
ADD COLUMN     "min_tier" "TrustTier" NOT NULL DEFAULT 'probation';

-- CreateTable
CREATE TABLE "runners" (
    "id" TEXT NOT NULL,
    "token_hash" TEXT,
    "tier" "TrustTier" NOT NULL DEFAULT 'probation',
    "state" TEXT,
    "loaded_models" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "disk_models" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "running_jobs" INTEGER NOT NULL DEFAULT 0,
    "slots" INTEGER NOT NULL DEFAULT 1,
    "free_vram_mib" INTEGER,
    "bench_class" TEXT,
    "bench_tokens_per_second" INTEGER,
    "last_heartbeat_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "runners_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_attempts" (
    "id" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "worker_id" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "detail" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_transactions" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "job_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "transaction_id" TEXT NOT NULL,
    "account" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "runners_token_hash_key" ON "runners"("token_hash");

-- CreateIndex
CREATE INDEX "job_attempts_worker_id_idx" ON "job_attempts"("worker_id");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_transactions_job_id_key" ON "ledger_transactions"("job_id");

-- CreateIndex
CREATE INDEX "ledger_entries_account_idx" ON "ledger_entries"("account");

-- CreateIndex
CREATE INDEX "jobs_worker_id_status_idx" ON "jobs"("worker_id", "status");

-- AddForeignKey
ALTER TABLE "job_attempts" ADD CONSTRAINT "job_attempts_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

