#!/usr/bin/env bash
# Update throughput, latency (to the leader and to followers) and ack -> visible-on-all-nodes
# time through a 3-node loopback cluster of release binaries. BENCH_N sets the sample size.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --bin quorumdns
bin=${QUORUMDNS_BIN:-$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/release/quorumdns}
QUORUMDNS_BIN=$bin cargo test --test e2e bench_updates -- --ignored --nocapture --test-threads=1
