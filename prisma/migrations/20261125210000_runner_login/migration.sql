-- AlterTable
ALTER TABLE "runners" ADD COLUMN     "owner_email" TEXT,
ADD COLUMN     "owner_id" TEXT;

-- CreateTable
CREATE TABLE "runner_device_codes" (
    "device_code_hash" TEXT NOT NULL,
    "user_code" TEXT NOT NULL,
    "email" TEXT,
    "status" TEXT NOT NULL,
    "owner_id" TEXT,
    "runner_id" TEXT,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "runner_device_codes_pkey" PRIMARY KEY ("device_code_hash")
);

-- CreateIndex
CREATE UNIQUE INDEX "runner_device_codes_user_code_key" ON "runner_device_codes"("user_code");

