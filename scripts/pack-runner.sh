#!/usr/bin/env bash
# Packs trd-worker (gpu-runner) as a GPU owner installs it: its compiled code
# (gpu-runner/dist, built first) and the compiled @trd/protocol (protocol/dist)
# bundled, since `npm pack` cannot bundle a workspace link. No TypeScript, no
# tsx, no test build (gpu-runner/testing). Prints the tarball's path.
# Usage: scripts/pack-runner.sh [destination dir]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$(realpath "${1:-.}")
node --import tsx scripts/build.ts packages >&2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# What package.json "files" lists (bin, dist/src, dist/package.json) is all npm packs of the staging copy.
cp -r gpu-runner/bin gpu-runner/package.json "$stage/"
mkdir -p "$stage/dist" "$stage/node_modules/@trd"
cp -r gpu-runner/dist/src gpu-runner/dist/package.json "$stage/dist/"
cp -r protocol/dist "$stage/node_modules/@trd/protocol"
rm -f "$stage/node_modules/@trd/protocol/.tsbuildinfo"
# The bundled package's own dependencies become the runner's, so npm installs them.
node -e '
  const fs = require("fs");
  const [file, protocolFile] = process.argv.slice(1);
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  const protocol = JSON.parse(fs.readFileSync(protocolFile, "utf8"));
  pkg.dependencies = { ...protocol.dependencies, ...pkg.dependencies };
  pkg.bundleDependencies = ["@trd/protocol"];
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
' "$stage/package.json" protocol/package.json
(cd "$stage" && npm pack --silent --pack-destination "$dest") | sed "s|^|$dest/|"
