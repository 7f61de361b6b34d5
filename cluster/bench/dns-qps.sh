#!/usr/bin/env bash
# DNS query throughput of one quorumdns node: dnsperf on core 0, the server pinned to
# core 1, 100k A + 10k AAAA records, 90% existing / 5% AAAA / 5% NXDOMAIN. Prints q/s,
# server CPU per query (from /proc) and RSS. Needs: dnsperf (Debian), python3.
# Usage: cluster/bench/dns-qps.sh [RECORDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}; SECS=${2:-10}
command -v dnsperf >/dev/null || { echo "needs dnsperf (apt-get install dnsperf)"; exit 1; }
cargo build --release --quiet
work=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
python3 cluster/bench/gen-zone.py bench.test "$N" "$work"
export QUORUMDNS_ADMIN_TOKEN=bench-token-0123456789
taskset -c 1 target/release/quorumdns serve --dev --data-dir "$work/data" --dns-addr 127.0.0.1:25353 \
  --http-addr 127.0.0.1:28053 --raft-addr 127.0.0.1:27053 2>"$work/node.log" & pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:28053/readyz >/dev/null && break; sleep 0.1; done
idle=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
t0=$(date +%s.%N)
curl -sf -X PUT -H "Authorization: Bearer $QUORUMDNS_ADMIN_TOKEN" --data-binary @"$work/bench.test.zone" \
  http://127.0.0.1:28053/api/v1/zones/bench.test/import >/dev/null
t1=$(date +%s.%N)
loaded=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
c0=$(awk '{print $14+$15}' /proc/$pid/stat)
out=$(taskset -c 0 dnsperf -s 127.0.0.1 -p 25353 -d "$work/queries.txt" -l "$SECS" -c 4 -Q 10000000 2>&1)
c1=$(awk '{print $14+$15}' /proc/$pid/stat)
qps=$(echo "$out" | awk '/Queries per second/{print $4}')
done_q=$(echo "$out" | awk '/Queries completed/{print $3}')
hz=$(getconf CLK_TCK)
printf "%-28s %s\n" "records" "$N A + $((N/10)) AAAA" \
  "import (s)" "$(echo "$t1 - $t0" | bc)" \
  "RSS idle (MiB)" "$((idle/1024))" \
  "RSS loaded (MiB)" "$((loaded/1024))" \
  "UDP queries/s" "$qps" \
  "server CPU per query (us)" "$(echo "scale=2; ($c1-$c0)*1000000/$hz/$done_q" | bc)"
echo "$out" | grep -E "Response codes|Average Latency|lost"
