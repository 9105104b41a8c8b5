-- AlterTable
ALTER TABLE "runners" ADD COLUMN     "current_jobs" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "settings" JSONB;

