
-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "session_id" TEXT;

-- AlterTable
ALTER TABLE "receipts" ADD COLUMN     "cid" TEXT,
ADD COLUMN     "seq" INTEGER,
ADD COLUMN     "session_id" TEXT;

-- AlterTable
ALTER TABLE "signing_keys" ADD COLUMN     "retired_at" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "job_sessions" (
    "id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "head_cid" TEXT,
    "receipt_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "content_blocks" (
    "cid" TEXT NOT NULL,
    "bytes" BYTEA NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "content_blocks_pkey" PRIMARY KEY ("cid")
);

-- CreateTable
CREATE TABLE "receipt_pins" (
    "cid" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "provider_cid" TEXT NOT NULL,
    "detail" TEXT,
    "pinned_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "receipt_pins_pkey" PRIMARY KEY ("cid","provider")
);

-- CreateIndex
CREATE INDEX "jobs_session_id_idx" ON "jobs"("session_id");

-- CreateIndex
CREATE UNIQUE INDEX "receipts_cid_key" ON "receipts"("cid");

-- CreateIndex
CREATE UNIQUE INDEX "receipts_session_id_seq_key" ON "receipts"("session_id", "seq");

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "job_sessions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_sessions" ADD CONSTRAINT "job_sessions_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

