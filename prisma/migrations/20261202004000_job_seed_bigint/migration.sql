-- A job's seed is 0..2^32-2 (the unsigned 32-bit seed of llama.cpp), past PostgreSQL's integer (2^31-1)
ALTER TABLE "jobs" ALTER COLUMN "seed" SET DATA TYPE BIGINT;
