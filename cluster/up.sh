#!/usr/bin/env bash
# Starts the local 3-node cluster (node i: DNS 127.0.0.1:535i, HTTP :805i, Raft :705i) and,
# on first start, adds nodes 2 and 3 as learners and promotes them. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"

for i in 1 2 3; do
  pidfile="$DATA/node$i.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "node $i already running (pid $(cat "$pidfile"))"
    continue
  fi
  "$BIN" serve --config "cluster/node$i.toml" >>"$DATA/node$i.log" 2>&1 &
  echo $! >"$pidfile"
  echo "node $i started (pid $!, log $DATA/node$i.log)"
done

for i in 1 2 3; do
  for _ in $(seq 100); do curl -fsS "$(http $i)/livez" >/dev/null 2>&1 && break; sleep 0.1; done
done

members=$("$BIN" cluster status --json --server "$(http 1)" | jq '.members | length')
for i in 2 3; do
  if [ "$members" -lt 3 ] && ! "$BIN" cluster status --json --server "$(http 1)" | jq -e ".members[] | select(.id == $i)" >/dev/null; then
    "$BIN" cluster add --server "$(http 1)" --id "$i" --raft-addr "127.0.0.1:705$i" \
      --http-addr "127.0.0.1:805$i" --dns-addr "127.0.0.1:535$i"
    "$BIN" cluster promote --server "$(http 1)" "$i"
  fi
done
"$BIN" cluster status --server "$(http 1)"
echo "admin token: $DATA/admin.token (export QUORUMDNS_ADMIN_TOKEN=\$(cat $DATA/admin.token))"
