#!/usr/bin/env bash
# Update throughput, latency (to the leader and to followers) and ack -> visible-on-all-nodes
# time through a loopback cluster of release binaries. BENCH_N sets the sample size,
# BENCH_NODES the cluster size (default 3, e.g. 5), BENCH_CLIENTS the client counts of the
# throughput runs (default 32, e.g. 32,128). QUORUMDNS_BIN runs a prebuilt binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${QUORUMDNS_BIN:-}" ] || cargo build --release --bin quorumdns
bin=${QUORUMDNS_BIN:-$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/release/quorumdns}
QUORUMDNS_BIN=$bin cargo test --test e2e bench_updates -- --ignored --nocapture --test-threads=1
