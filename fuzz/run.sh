#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds (default 30) and prints executions per target.
#   fuzz/run.sh            # CI: 30 s per target
#   fuzz/run.sh 600        # longer, by hand
#   fuzz/run.sh 60 dns_answer
# libFuzzer needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
# A crash leaves its input in fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/
# so the main crate's tests (src/dns/fuzzing.rs) replay it forever.
set -euo pipefail
cd "$(dirname "$0")"
SECS="${1:-30}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(dns_answer dyndns_request zonefile raft_rpc)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
cargo fuzz build -O "${TARGETS[@]:0:1}" >/dev/null 2>&1 || true
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  [ -d "seeds/$t" ] && cp -n seeds/$t/* "corpus/$t/" 2>/dev/null || true
  log="artifacts/$t/last-run.log"
  if cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "$t: ok, ${execs:-?} executions in ${SECS}s"
  else
    echo "$t: FAILED (see fuzz/$log)"; tail -n 30 "$log"; status=1
  fi
done
exit $status
