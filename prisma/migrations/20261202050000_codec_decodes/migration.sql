-- Every request to the codec server Temporal's UI calls: who, which roles, how many payloads of each class opened or kept sealed.
CREATE TABLE "codec_decodes" (
    "id" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "customer_id" TEXT NOT NULL,
    "roles" TEXT NOT NULL,
    "via" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "payloads" INTEGER NOT NULL,
    "opened" INTEGER NOT NULL,
    "kept_sealed" INTEGER NOT NULL,
    "classes" JSONB NOT NULL,
    "origin" TEXT,
    CONSTRAINT "codec_decodes_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "codec_decodes_customer_id_at_idx" ON "codec_decodes"("customer_id", "at");
CREATE INDEX "codec_decodes_at_idx" ON "codec_decodes"("at");
