-- The version each runner reports in its heartbeats, and, while it is below the platform's minimum, why it gets no new jobs (the runner endpoint refuses its polls with it).
ALTER TABLE "runners" ADD COLUMN "runner_version" TEXT;
ALTER TABLE "runners" ADD COLUMN "update_required" TEXT;
