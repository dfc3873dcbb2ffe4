#!/bin/sh
# One-shot before the replicas start: make sure ZHIKU_HOME has an admin API key. Without any key `zhiku serve`
# trusts loopback only and will not bind 0.0.0.0. The secret is shown once, so it is kept (mode 600) in the
# shared volume for the operator: docker compose run --rm --entrypoint cat zhiku-init /data/admin.key
set -eu
key="${ZHIKU_HOME:-/data}/admin.key"
if [ -s "$key" ]; then
  echo "zhiku-init: admin key already in $key"
  exit 0
fi
umask 077
mkdir -p "$(dirname "$key")"
zhiku keys create --scope admin --name compose-admin > "$key.tmp"
mv "$key.tmp" "$key"
echo "zhiku-init: created an admin key in $key"
