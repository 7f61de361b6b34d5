#!/usr/bin/env bash
# Adds nodes 2 and 3 to the compose cluster bootstrapped by node 1 and promotes them to
# voters, through node 1's API (the image's own CLI, run inside the node1 container).
# Safe to run again: an existing member answers 409, which is fine.
#   deploy/compose/join.sh [docker-compose args, e.g. -p NAME]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
compose=(docker-compose -f "$here/../compose.yaml" "$@")
token="$(cat "$here/secrets/admin_token")"
cli() { "${compose[@]}" exec -T -e QUORUMDNS_ADMIN_TOKEN="$token" node1 quorumdns "$@" --server http://127.0.0.1:8053; }

for attempt in $(seq 1 60); do
  if cli cluster status >/dev/null 2>&1; then break; fi
  [ "$attempt" = 60 ] && { echo "node1 did not answer" >&2; exit 1; }
  sleep 1
done
for id in 2 3; do
  ip="172.28.53.1$id"
  out="$(cli cluster add --id "$id" --raft-addr "$ip:7053" --http-addr "$ip:8053" --dns-addr "$ip:53" --wait-secs 30 2>&1)" \
    || grep -q "duplicate_id\|409" <<<"$out" || { echo "$out" >&2; exit 1; }
  out="$(cli cluster promote "$id" 2>&1)" || grep -q "already_voter\|409" <<<"$out" || { echo "$out" >&2; exit 1; }
done
cli cluster status
