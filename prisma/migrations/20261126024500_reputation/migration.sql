
-- AlterTable
ALTER TABLE "runners" ADD COLUMN     "reputation_at" TIMESTAMP(3),
ADD COLUMN     "reputation_score" INTEGER,
ADD COLUMN     "shadowbanned_reason" TEXT;

-- CreateTable
CREATE TABLE "runner_audits" (
    "id" TEXT NOT NULL,
    "runner_id" TEXT NOT NULL,
    "job_id" TEXT,
    "passed" BOOLEAN NOT NULL,
    "detail" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "runner_audits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "runner_uptime_minutes" (
    "runner_id" TEXT NOT NULL,
    "minute" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "runner_uptime_minutes_pkey" PRIMARY KEY ("runner_id","minute")
);

-- CreateIndex
CREATE INDEX "runner_audits_runner_id_created_at_idx" ON "runner_audits"("runner_id", "created_at");

-- AddForeignKey
ALTER TABLE "runner_audits" ADD CONSTRAINT "runner_audits_runner_id_fkey" FOREIGN KEY ("runner_id") REFERENCES "runners"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

