-- Rate-limit windows shared by every gateway replica: one row per (limit, client or credential), by hash.
CREATE TABLE "rate_limit_windows" (
    "key" BYTEA NOT NULL,
    "reset_at" TIMESTAMP(3) NOT NULL,
    "count" INTEGER NOT NULL,
    CONSTRAINT "rate_limit_windows_pkey" PRIMARY KEY ("key")
);
CREATE INDEX "rate_limit_windows_reset_at_idx" ON "rate_limit_windows"("reset_at");
