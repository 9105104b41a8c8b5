-- AlterTable
ALTER TABLE "runners" ADD COLUMN     "settings" JSONB;

