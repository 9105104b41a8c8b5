-- CreateTable
CREATE TABLE "signed_catalogs" (
    "catalog_sha256" TEXT NOT NULL,
    "kid" TEXT NOT NULL,
    "document" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "signed_catalogs_pkey" PRIMARY KEY ("catalog_sha256","kid")
);
