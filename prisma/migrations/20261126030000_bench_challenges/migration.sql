
-- CreateTable
CREATE TABLE "bench_challenges" (
    "id" TEXT NOT NULL,
    "runner_id" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "completion_tokens" INTEGER NOT NULL,
    "elapsed_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bench_challenges_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "bench_challenges_runner_id_created_at_idx" ON "bench_challenges"("runner_id", "created_at");

