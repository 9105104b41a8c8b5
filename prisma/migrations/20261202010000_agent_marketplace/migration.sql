-- The developer marketplace: agents, their reviewed versions, submissions and their review events, reviewer roles, and which jobs ran an agent.
CREATE TABLE "account_roles" (
    "customer_id" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "granted_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "account_roles_pkey" PRIMARY KEY ("customer_id","role"),
    CONSTRAINT "account_roles_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE TABLE "agents" (
    "slug" TEXT NOT NULL,
    "author_id" TEXT NOT NULL,
    "published_version" TEXT,
    "published_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agents_pkey" PRIMARY KEY ("slug"),
    CONSTRAINT "agents_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE TABLE "agent_submissions" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "author_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "current_version" TEXT NOT NULL,
    "reminders" INTEGER NOT NULL DEFAULT 0,
    "escalated_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agent_submissions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "agent_submissions_slug_fkey" FOREIGN KEY ("slug") REFERENCES "agents"("slug") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "agent_submissions_status_created_at_idx" ON "agent_submissions"("status", "created_at");
CREATE INDEX "agent_submissions_author_id_created_at_idx" ON "agent_submissions"("author_id", "created_at");
-- One open submission per agent: a new version of an agent under review is a resubmission of it.
CREATE UNIQUE INDEX "agent_submissions_one_open_per_slug" ON "agent_submissions"("slug") WHERE "status" IN ('checking', 'awaiting_review', 'changes_requested', 'checks_failed');

CREATE TABLE "agent_versions" (
    "slug" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "submission_id" TEXT NOT NULL,
    "manifest" JSONB NOT NULL,
    "manifest_sha256" TEXT NOT NULL,
    "checks" JSONB,
    "dry_run_job_id" TEXT,
    "dry_run_output" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "agent_versions_pkey" PRIMARY KEY ("slug","version"),
    CONSTRAINT "agent_versions_slug_fkey" FOREIGN KEY ("slug") REFERENCES "agents"("slug") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "agent_versions_submission_id_fkey" FOREIGN KEY ("submission_id") REFERENCES "agent_submissions"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE TABLE "agent_review_events" (
    "id" TEXT NOT NULL,
    "submission_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "actor_id" TEXT,
    "reasons" TEXT,
    "at" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "agent_review_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "agent_review_events_submission_id_fkey" FOREIGN KEY ("submission_id") REFERENCES "agent_submissions"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "agent_review_events_submission_id_at_idx" ON "agent_review_events"("submission_id", "at");

CREATE TABLE "agent_runs" (
    "job_id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "manifest_sha256" TEXT NOT NULL,
    "payout_account" TEXT NOT NULL,
    "dry_run" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "agent_runs_pkey" PRIMARY KEY ("job_id"),
    CONSTRAINT "agent_runs_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
