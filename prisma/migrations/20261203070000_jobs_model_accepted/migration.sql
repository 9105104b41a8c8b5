-- A demand-derived warm-pool target reads a model's jobs in the same hour of each of the last days.
CREATE INDEX "jobs_model_accepted_at_idx" ON "jobs"("model", "accepted_at");
