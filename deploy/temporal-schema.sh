#!/bin/sh
# One-shot: Temporal's two databases on PostgreSQL, created and brought to the newest schema
# (what devstack/temporal-cluster.ts does for the local cluster). Safe to run again.
set -eu
for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}; dir=${pair#*:}
  command sql --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" create || true
  command sql --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" setup-schema -v 0.0 || true
  command sql --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
