-- A signing key is published (created_at) before it signs (activates_at): verifiers and runners
-- fetch it in between. Keys registered before this migration were active from creation.
ALTER TABLE "signing_keys" ADD COLUMN "activates_at" TIMESTAMP(3);
UPDATE "signing_keys" SET "activates_at" = "created_at";
ALTER TABLE "signing_keys" ALTER COLUMN "activates_at" SET NOT NULL;
