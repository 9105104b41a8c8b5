
-- AlterTable
ALTER TABLE "runner_audits" ADD COLUMN     "evidence" JSONB;

