-- The platform's decisions about runners: recorded where they are made (unsigned, seq null), then signed and
-- chained per runner by an orchestrator (seq, the signed document, its envelope's SHA-256).
CREATE TABLE "runner_decisions" (
    "id" BIGSERIAL NOT NULL,
    "runner_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "detail" JSONB NOT NULL,
    "decided_at" TIMESTAMP(3) NOT NULL,
    "seq" INTEGER,
    "document" JSONB,
    "sha256" TEXT,
    CONSTRAINT "runner_decisions_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "runner_decisions_runner_id_dedupe_key_key" ON "runner_decisions"("runner_id", "dedupe_key");
CREATE UNIQUE INDEX "runner_decisions_runner_id_seq_key" ON "runner_decisions"("runner_id", "seq");
CREATE INDEX "runner_decisions_seq_id_idx" ON "runner_decisions"("seq", "id");
