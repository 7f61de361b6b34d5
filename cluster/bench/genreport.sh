#!/usr/bin/env bash
# ISC's DNS compliance test (genreport, https://gitlab.isc.org/isc-projects/DNS-Compliance-Testing)
# against one quorumdns node: every test of `genreport -f -c` (EDNS, flags, opcodes,
# options, cookies, TCP) must print `ok`. genreport is not packaged by Debian or PyPI, so
# this is a script rather than a test of the suite: give it the binary with GENREPORT
# (default: the build in /work/shared/tools/genreport).
#
#   cluster/bench/genreport.sh [QUORUMDNS_BINARY]
#
# Starts the node on loopback with an NSID ("genreport-node") in a temporary directory,
# prints genreport's line for it, and exits 1 if any test is not `ok`.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin="${1:-${CARGO_TARGET_DIR:-target}/release/quorumdns}"
genreport="${GENREPORT:-/work/shared/tools/genreport/genreport}"
[ -x "$bin" ] || { echo "no quorumdns binary at $bin (cargo build --release)" >&2; exit 2; }
[ -x "$genreport" ] || { echo "no genreport at $genreport (set GENREPORT)" >&2; exit 2; }

dir="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

port=$((20000 + RANDOM % 10000))
cat > "$dir/node.toml" <<EOF
[node]
id = 1
data_dir = "$dir/data"
dns_addr = "127.0.0.1:$port"
http_addr = "127.0.0.1:$((port + 1))"
raft_addr = "127.0.0.1:$((port + 2))"

[dns]
nsid = "genreport-node"

[[zone]]
name = "dyn.example.test"
ns = ["ns1.dyn.example.test"]
records = ["ns1 3600 IN A 127.0.0.1"]
EOF
QUORUMDNS_ADMIN_TOKEN=genreport-admin-token-0123456789 "$bin" serve --config "$dir/node.toml" >"$dir/node.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" dyn.example.test SOA 2>/dev/null | grep -q hostmaster && break
  sleep 0.1
done

line="$(echo "dyn.example.test ns1.dyn.example.test 127.0.0.1" | "$genreport" -f -c -P "$port")"
echo "$line"
failed="$(echo "$line" | sed 's/^[^:]*: //' | tr ' ' '\n' | grep '=' | grep -v '=ok' || true)"
if [ -n "$failed" ]; then
  echo "not ok:" $failed >&2
  exit 1
fi
echo "all $(echo "$line" | tr ' ' '\n' | grep -c '=ok') tests ok"
