-- One-time dashboard sign-in links sent by e-mail: only the SHA-256 of the link's token is stored.
CREATE TABLE "email_sign_ins" (
    "token_hash" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "used_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "email_sign_ins_pkey" PRIMARY KEY ("token_hash")
);
CREATE INDEX "email_sign_ins_expires_at_idx" ON "email_sign_ins"("expires_at");
