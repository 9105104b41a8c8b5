-- CreateEnum
CREATE TYPE "OrgRole" AS ENUM ('owner', 'member');
-- AlterTable
ALTER TABLE "customers" ADD COLUMN     "monthly_cap_microcredits" BIGINT;
-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "rate_limit_per_minute" INTEGER;
-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "api_key_id" TEXT,
ADD COLUMN     "reserved_microcredits" BIGINT;
-- CreateTable
CREATE TABLE "org_members" (
    "id" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "role" "OrgRole" NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "org_members_pkey" PRIMARY KEY ("id")
);
-- CreateIndex
CREATE UNIQUE INDEX "org_members_customer_id_email_key" ON "org_members"("customer_id", "email");
-- CreateIndex
CREATE INDEX "jobs_customer_id_status_idx" ON "jobs"("customer_id", "status");
-- CreateIndex
CREATE INDEX "jobs_api_key_id_accepted_at_idx" ON "jobs"("api_key_id", "accepted_at");
-- AddForeignKey
ALTER TABLE "org_members" ADD CONSTRAINT "org_members_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
