#!/usr/bin/env bash
# The gates every change passes before the tests run (tests/run.sh calls this first):
#   1. formatting (rustfmt.toml) of the crate, jepsen/ and fuzz/;
#   2. clippy on every target with warnings as errors ([lints] in Cargo.toml);
#   3. no unused dependency (cargo-machete, installed from crates.io when missing);
#   4. the module layering (tests/layering.rs: no import cycle, lower layers only).
# Each gate names what failed; the script stops at the first one.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== lint: %s\n' "$*"; }

step "cargo fmt --check (crate, jepsen, fuzz)"
cargo fmt --check
(cd jepsen && cargo fmt --check)
(cd fuzz && cargo fmt --check)

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "unused dependencies (cargo machete)"
if ! command -v cargo-machete >/dev/null 2>&1; then
  cargo install --locked cargo-machete --version 0.9.2 --quiet
fi
cargo machete
(cd jepsen && cargo machete)

step "module layering (tests/layering.rs)"
cargo test --locked --test layering --quiet
