#!/usr/bin/env bash
# Stops the nodes started by up.sh (SIGTERM, by their recorded pids). `--wipe` also
# deletes their data, secrets and logs.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=cluster/data
for i in 1 2 3; do
  pidfile="$DATA/node$i.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "node $i stopped"
  fi
  rm -f "$pidfile"
done
if [ "${1:-}" = "--wipe" ]; then
  rm -rf "$DATA"
  echo "data wiped"
fi
