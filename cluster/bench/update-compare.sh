#!/usr/bin/env bash
# Updates side by side in one run: dyndns2 /nic/update against one quorumdns node (fsynced
# Raft log, credential cache on) with CLIENTS keep-alive clients, then BIND taking RFC 2136
# updates of the same kind of records, sequential and 20 in flight. The 3-node numbers
# (leader, followers, propagation to all nodes) come from cluster/bench/run.sh.
#   cluster/bench/update-compare.sh [clients,clients...] [seconds]
# QUORUMDNS_BIN / LOAD_BIN: prebuilt binaries (no cargo build); BASE_BIN: an older binary,
# run interleaved with the new one at every client count (before/after in the same run).
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS="${1:-32}"; SECS="${2:-10}"
TOKEN="bench-admin-token-0123456789"
TARGET="${CARGO_TARGET_DIR:-target}/release"
if [ -z "${QUORUMDNS_BIN:-}" ] || [ -z "${LOAD_BIN:-}" ]; then
  cargo build --release --bin quorumdns --example dyndns_load
fi
WORK="$(mktemp -d)"
cp "${QUORUMDNS_BIN:-$TARGET/quorumdns}" "$WORK/quorumdns"
cp "${LOAD_BIN:-$TARGET/examples/dyndns_load}" "$WORK/dyndns_load"
[ -n "${BASE_BIN:-}" ] && cp "$BASE_BIN" "$WORK/base"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
{ cat src/config/dev.toml; printf '\n[dyndns]\npublic_url = "http://127.0.0.1:18253"\nmin_update_interval_secs = 0\ncredential_cache = true\n'; } >"$WORK/node.toml"

run() { # binary clients
  rm -rf "$WORK/data"; mkdir -p "$WORK/data"
  QUORUMDNS_ADMIN_TOKEN="$TOKEN" RUST_LOG=warn "$WORK/$1" serve --config "$WORK/node.toml" \
    --data-dir "$WORK/data" --http-addr 127.0.0.1:18253 --dns-addr 127.0.0.1:18254 --raft-addr 127.0.0.1:18255 \
    2>"$WORK/node.log" &
  PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18253/readyz >/dev/null && break; sleep 0.1; done
  sleep 1
  echo -n "$1 1 node, $2 clients: "
  "$WORK/dyndns_load" --url http://127.0.0.1:18253 --token "$TOKEN" --clients "$2" --seconds "$SECS" --requests 1000000
  curl -s http://127.0.0.1:18253/metrics | grep -E '^quorumdns_raft_(write_group_commands|log_append_entries)_(sum|count)' || true
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

for c in ${CLIENTS//,/ }; do
  [ -n "${BASE_BIN:-}" ] && run base "$c"
  run quorumdns "$c"
done
/usr/bin/python3 cluster/bench/bind-update.py 2000 20
