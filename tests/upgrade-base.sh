#!/usr/bin/env bash
# Builds the binary of the previous release (the "N" of a rolling upgrade to this tree's
# "N+1") for tests/e2e/upgrade.rs: the first release of the data formats (format 1),
# commit BASE below, as `$CARGO_TARGET_DIR/debug/quorumdns-upgrade-base`.
#
# The source comes from this repository's history (`git archive`), is unpacked into a
# temporary directory and built with the same target directory, so it shares every
# dependency already built; its binary is renamed so that it never replaces this tree's
# `quorumdns`. Idempotent: an existing binary is kept. tests/run.sh calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=0228f2862ece22b6af78fe4553d3075701dc1359
target="${CARGO_TARGET_DIR:-$PWD/target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
out="$target/debug/quorumdns-upgrade-base"
if [ -x "$out" ] && [ "$(cat "$out.commit" 2>/dev/null)" = "$BASE" ]; then
  exit 0
fi
if ! git cat-file -e "$BASE^{commit}" 2>/dev/null; then
  echo "tests/upgrade-base.sh: commit $BASE (the previous release) is not in this clone's history;" >&2
  echo "  the upgrade test needs it (a full clone, not a shallow one)" >&2
  exit 1
fi
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
git archive "$BASE" | tar -x -C "$src"
# A binary name of its own: the build must not overwrite target/debug/quorumdns.
sed -i 's/^default-run = "quorumdns"$/default-run = "quorumdns-upgrade-base"/' "$src/Cargo.toml"
sed -i '/^\[\[bin\]\]$/,/^path/ s/^name = "quorumdns"$/name = "quorumdns-upgrade-base"/' "$src/Cargo.toml"
grep -q 'name = "quorumdns-upgrade-base"' "$src/Cargo.toml"
echo "building the previous release ($BASE) for the upgrade test"
(cd "$src" && CARGO_TARGET_DIR="$target" cargo build --locked --bin quorumdns-upgrade-base --quiet)
echo "$BASE" >"$out.commit"
