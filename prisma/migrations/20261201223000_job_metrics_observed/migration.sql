-- Which finished jobs a gateway's /metrics has counted: each job once, by whichever replica claims it first.
ALTER TABLE "jobs" ADD COLUMN "metrics_observed_at" TIMESTAMP(3);
UPDATE "jobs" SET "metrics_observed_at" = CURRENT_TIMESTAMP WHERE "finished_at" IS NOT NULL;
CREATE INDEX "jobs_metrics_unobserved_idx" ON "jobs"("finished_at") WHERE "finished_at" IS NOT NULL AND "metrics_observed_at" IS NULL;
