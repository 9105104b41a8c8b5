-- A minute in which the runner had a model loaded and took jobs (idle or busy): its warm minutes, for the owner's plots and the warm pool.
ALTER TABLE "runner_uptime_minutes" ADD COLUMN "warm" BOOLEAN NOT NULL DEFAULT false;
