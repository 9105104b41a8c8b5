#!/bin/sh
# Runs a command with each secret file in /run/secrets (docker-compose.yml's `secrets:`) as the
# environment variable of its name in capitals: /run/secrets/database_url -> DATABASE_URL.
# Secrets stay files on disk, never in the compose file or `docker inspect`.
set -eu
for f in /run/secrets/*; do
  [ -f "$f" ] || continue
  name=$(basename "$f" | tr 'a-z-' 'A-Z_')
  case "$name" in *[!A-Z0-9_]*) continue ;; esac
  export "$name=$(cat "$f")"
done
exec "$@"
