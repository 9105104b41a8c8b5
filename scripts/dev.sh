#!/usr/bin/env bash
# The whole system on this machine: PostgreSQL, Temporal (with its web UI),
# orchestrator, gateway and one runner with the generated model. Ctrl-C stops it all.
#   npm run dev -- --cluster   the cluster mode instead (docs/cluster.md): a Temporal cluster
#                              on PostgreSQL, replicas of every process behind HAProxy.
set -euo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1
if [ "${1:-}" = "--cluster" ]; then
  bash scripts/setup.sh --cluster
  exec node --import tsx devstack/up-cluster.ts
fi
bash scripts/setup.sh
exec node --import tsx devstack/up.ts
