-- A streaming job's push token, by its hash: the gateway replica a runner pushes to may not be the one streaming.
ALTER TABLE "jobs" ADD COLUMN "stream_token_hash" BYTEA;
