#!/usr/bin/env bash
# The whole test suite on real parts (PostgreSQL, Temporal, llama.cpp, Chromium).
# Installs what it needs first. Extra arguments go to jest, e.g. a test path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser --cluster
export CHECKPOINT_DISABLE=1
npx tsc -p tsconfig.json --noEmit
NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning ${NODE_OPTIONS:-}" exec npx jest --runInBand "$@"
