#!/usr/bin/env bash
# The whole test suite on real parts (PostgreSQL, Temporal, llama.cpp, Chromium).
# Installs what it needs first. Extra arguments go to jest, e.g. a test path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser --cluster
export CHECKPOINT_DISABLE=1
npx tsc -p tsconfig.json --noEmit
# One file at a time (the tests share two cores and start real servers), in a jest worker that is replaced once its
# heap passes TRD_TEST_WORKER_RECYCLE_MB after a file. One process for the whole suite (--runInBand) grew to 5.7 GB
# by its end (what each file leaves behind), and the platform that most tests run inside jest shared that heap:
# jest took 2986 s on a fresh machine's CI (openai-real 232 s, ledger-1000-settlements 200 s), and 1451 s with
# this recycling (the same files 23.6 s and 44.5 s) on another 2-core machine: not one run, but the size of the gap.
recycle_mb=${TRD_TEST_WORKER_RECYCLE_MB:-1536}
if ! [[ "$recycle_mb" =~ ^[1-9][0-9]*$ ]]; then
  echo "TRD_TEST_WORKER_RECYCLE_MB=$recycle_mb is not a whole number of megabytes" >&2
  exit 2
fi
NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning --max-old-space-size=${TRD_TEST_HEAP_MB:-12288} ${NODE_OPTIONS:-}" exec npx jest --maxWorkers=1 --workerIdleMemoryLimit="${recycle_mb}MB" --logHeapUsage "$@"
