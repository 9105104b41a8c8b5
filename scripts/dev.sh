#!/usr/bin/env bash
# The whole system on this machine: PostgreSQL, Temporal (with its web UI),
# orchestrator, gateway and one runner with the generated model. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CHECKPOINT_DISABLE=1
exec node --import tsx devstack/up.ts
