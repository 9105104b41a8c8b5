-- Fleets (issue 20): an owner organization is an account with a fleets row, and its members run runners under it.
CREATE TABLE "fleets" (
    "id" TEXT NOT NULL,
    "time_zone" TEXT NOT NULL,
    "payout_to" TEXT NOT NULL DEFAULT 'organization',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "fleets_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "fleet_members" (
    "id" TEXT NOT NULL,
    "fleet_id" TEXT NOT NULL,
    "account_id" TEXT,
    "email" TEXT,
    "role" TEXT NOT NULL,
    "daily_cap_microcredits" BIGINT,
    "max_runners" INTEGER,
    "invite_token_hash" TEXT,
    "invite_expires_at" TIMESTAMP(3),
    "joined_at" TIMESTAMP(3),
    "removed_at" TIMESTAMP(3),
    "cap_reached_until" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "fleet_members_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "fleet_members_invite_token_hash_key" ON "fleet_members"("invite_token_hash");
CREATE UNIQUE INDEX "fleet_members_fleet_id_account_id_key" ON "fleet_members"("fleet_id", "account_id");
CREATE UNIQUE INDEX "fleet_members_fleet_id_email_key" ON "fleet_members"("fleet_id", "email");

ALTER TABLE "runners" ADD COLUMN "fleet_id" TEXT, ADD COLUMN "fleet_member_id" TEXT;
ALTER TABLE "runner_device_codes" ADD COLUMN "fleet_id" TEXT;
