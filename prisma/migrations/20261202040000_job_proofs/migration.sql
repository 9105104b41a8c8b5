-- Proof of work: each opted-in job's sealed blob (prompt and output sealed to the customer's key), by CID.
CREATE TABLE "job_proofs" (
    "job_id" TEXT NOT NULL,
    "cid" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "job_proofs_pkey" PRIMARY KEY ("job_id")
);
