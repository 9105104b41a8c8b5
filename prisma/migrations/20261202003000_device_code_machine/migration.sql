-- The machine a device code came from, as `trd-worker login` describes it, shown to the owner who approves or denies it.
ALTER TABLE "runner_device_codes" ADD COLUMN "hostname" TEXT;
ALTER TABLE "runner_device_codes" ADD COLUMN "gpu" TEXT;
ALTER TABLE "runner_device_codes" ADD COLUMN "runner_version" TEXT;
