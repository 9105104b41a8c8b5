-- Federation between pods: peers, the chain-head attestations sent to them and received from them, and their heads by session.
CREATE TABLE "peers" (
    "name" TEXT NOT NULL,
    "base_url" TEXT NOT NULL,
    "inbound_credential_sha256" TEXT NOT NULL,
    "outbound_credential" BYTEA,
    "keys" JSONB NOT NULL,
    "keys_fetched_at" TIMESTAMP(3) NOT NULL,
    "quota_per_minute" INTEGER NOT NULL,
    "attest_every_ms" INTEGER NOT NULL,
    "approved_by" TEXT NOT NULL,
    "approved_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_by" TEXT,
    "revoked_at" TIMESTAMP(3),
    CONSTRAINT "peers_pkey" PRIMARY KEY ("name")
);
CREATE UNIQUE INDEX "peers_inbound_credential_sha256_key" ON "peers"("inbound_credential_sha256");

CREATE TABLE "sent_attestations" (
    "exchange_id" TEXT NOT NULL,
    "peer" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "document" JSONB NOT NULL,
    "countersignature" JSONB,
    "issued_at" TIMESTAMP(3) NOT NULL,
    "countersigned_at" TIMESTAMP(3),
    CONSTRAINT "sent_attestations_pkey" PRIMARY KEY ("exchange_id")
);
CREATE UNIQUE INDEX "sent_attestations_sha256_key" ON "sent_attestations"("sha256");
CREATE INDEX "sent_attestations_peer_issued_at_idx" ON "sent_attestations"("peer", "issued_at");

CREATE TABLE "received_attestations" (
    "sha256" TEXT NOT NULL,
    "pod" TEXT NOT NULL,
    "document" JSONB NOT NULL,
    "countersignature" JSONB NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "received_attestations_pkey" PRIMARY KEY ("sha256")
);
CREATE INDEX "received_attestations_pod_received_at_idx" ON "received_attestations"("pod", "received_at");

CREATE TABLE "attested_heads" (
    "attestation_sha256" TEXT NOT NULL,
    "peer" TEXT NOT NULL,
    "sent" BOOLEAN NOT NULL,
    "session_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "cid" TEXT NOT NULL,
    CONSTRAINT "attested_heads_pkey" PRIMARY KEY ("attestation_sha256","session_id")
);
CREATE INDEX "attested_heads_peer_sent_session_id_idx" ON "attested_heads"("peer", "sent", "session_id");
