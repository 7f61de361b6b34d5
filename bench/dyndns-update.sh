#!/usr/bin/env bash
# Benchmark (not a test): updates/s and p50/p99 latency of /nic/update on one node
# (release build), with the verified-credential cache on and off.
#   bench/dyndns-update.sh [clients] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS="${1:-16}"
SECONDS_RUN="${2:-15}"
TOKEN="bench-admin-token-0123456789"
cargo build --release --bin quorumdns --example dyndns_load
TARGET="${CARGO_TARGET_DIR:-target}/release"
# Private copies: a shared target dir may be rebuilt by someone else during the run.
WORK="$(mktemp -d)"
cp "$TARGET/quorumdns" "$TARGET/examples/dyndns_load" "$WORK/"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

for cache in true false; do
  DATA="$WORK/data-$cache"
  mkdir -p "$DATA"
  { sed -n '1,200p' src/config/dev.toml; printf '\n[dyndns]\npublic_url = "http://127.0.0.1:18153"\nmin_update_interval_secs = 0\ncredential_cache = %s\n' "$cache"; } >"$DATA/node.toml"
  QUORUMDNS_ADMIN_TOKEN="$TOKEN" RUST_LOG=warn "$WORK/quorumdns" serve --config "$DATA/node.toml" \
    --data-dir "$DATA" --http-addr 127.0.0.1:18153 --dns-addr 127.0.0.1:18154 --raft-addr 127.0.0.1:18155 \
    2>"$DATA/node.log" &
  PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18153/readyz >/dev/null && break; sleep 0.1; done
  sleep 1 # the configured zone is created right after the leader is elected
  echo -n "credential_cache=$cache: "
  "$WORK/dyndns_load" --url http://127.0.0.1:18153 --token "$TOKEN" --clients "$CLIENTS" \
    --seconds "$SECONDS_RUN" --requests 1000000
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
