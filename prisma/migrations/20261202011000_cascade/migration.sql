-- The inference cascade: who served a job (null: a network runner, as before), what its upstream provider costs the platform,
-- and the calls in flight to each provider (its concurrency limit holds across orchestrator replicas).
ALTER TABLE "jobs" ADD COLUMN "served_by" TEXT;
ALTER TABLE "jobs" ADD COLUMN "provider_cost_microcredits" BIGINT;

CREATE TABLE "upstream_leases" (
    "provider" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "upstream_leases_pkey" PRIMARY KEY ("provider","job_id")
);
