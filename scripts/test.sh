#!/usr/bin/env bash
# The whole test suite on real parts. Installs what it needs first (scripts/setup.sh).
# Extra arguments go to jest (e.g. a test path, or --json --outputFile=report.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CHECKPOINT_DISABLE=1
PATH="$(bash scripts/setup.sh --temporal-dir):$PATH"
exec env NODE_OPTIONS="--experimental-vm-modules ${NODE_OPTIONS:-}" npx jest --runInBand "$@"
