#!/usr/bin/env bash
# The whole test suite on real parts (PostgreSQL, Temporal, llama.cpp, Chromium).
# Installs what it needs first. Extra arguments go to jest, e.g. a test path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser --cluster
export CHECKPOINT_DISABLE=1
npx tsc -p tsconfig.json --noEmit
# One jest process runs every file (--runInBand) and its heap grows from file to file. With Node's default
# limit here (~4.3 GB) the whole suite reached it: 4.5 s garbage collections stalled the late files, and the
# process died of 'heap out of memory' writing its report. --logHeapUsage prints each file's heap: the whole
# suite ended at 5.9 GB on 2026-12-02, so the limit leaves room (the machines have 24 GiB).
NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning --max-old-space-size=${TRD_TEST_HEAP_MB:-12288} ${NODE_OPTIONS:-}" exec npx jest --runInBand --logHeapUsage "$@"
