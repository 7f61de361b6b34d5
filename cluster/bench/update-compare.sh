#!/usr/bin/env bash
# Updates side by side in one run: dyndns2 /nic/update against one quorumdns node (fsynced
# Raft log, credential cache on) with CLIENTS keep-alive clients, then BIND taking RFC 2136
# updates of the same kind of records, sequential and 20 in flight. The 3-node numbers
# (leader, followers, propagation to all nodes) come from cluster/bench/run.sh.
#   cluster/bench/update-compare.sh [clients] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS="${1:-32}"; SECS="${2:-10}"
TOKEN="bench-admin-token-0123456789"
cargo build --release --bin quorumdns --example dyndns_load
TARGET="${CARGO_TARGET_DIR:-target}/release"
WORK="$(mktemp -d)"
cp "$TARGET/quorumdns" "$TARGET/examples/dyndns_load" "$WORK/"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
{ cat src/config/dev.toml; printf '\n[dyndns]\nmin_update_interval_secs = 0\ncredential_cache = true\n'; } >"$WORK/node.toml"
QUORUMDNS_ADMIN_TOKEN="$TOKEN" RUST_LOG=warn "$WORK/quorumdns" serve --config "$WORK/node.toml" \
  --data-dir "$WORK" --http-addr 127.0.0.1:18253 --dns-addr 127.0.0.1:18254 --raft-addr 127.0.0.1:18255 \
  2>"$WORK/node.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18253/readyz >/dev/null && break; sleep 0.1; done
sleep 1
echo -n "quorumdns 1 node, $CLIENTS clients: "
"$WORK/dyndns_load" --url http://127.0.0.1:18253 --token "$TOKEN" --clients "$CLIENTS" --seconds "$SECS" --requests 1000000
kill "$PID"; wait "$PID" 2>/dev/null || true
/usr/bin/python3 cluster/bench/bind-update.py 2000 20
