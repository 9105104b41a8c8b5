#!/usr/bin/env bash
# Packs trd-worker (gpu-runner) as a GPU owner installs it: `npm pack` cannot
# bundle a workspace link, so @trd/protocol is copied into a staging copy of
# the package and bundled from there. Prints the tarball's path.
# Usage: scripts/pack-runner.sh [destination dir]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$(realpath "${1:-.}")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r gpu-runner/bin gpu-runner/src gpu-runner/package.json "$stage/"
mkdir -p "$stage/node_modules/@trd"
cp -r protocol "$stage/node_modules/@trd/protocol"
rm -rf "$stage/node_modules/@trd/protocol/node_modules"
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
