-- The models a runner had loaded in every heartbeat of the minute while idle (none if any beat was busy, paused or cold): what a warm-pool credit is for.
ALTER TABLE "runner_uptime_minutes" ADD COLUMN "idle_models" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];

-- Minutes the warm-pool credit has decided, each once across orchestrator replicas (its credits are posted in the same transaction).
CREATE TABLE "warm_pool_minutes" (
    "minute" TIMESTAMP(3) NOT NULL,
    "credited" INTEGER NOT NULL,
    "decided_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "warm_pool_minutes_pkey" PRIMARY KEY ("minute")
);
