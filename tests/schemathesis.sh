#!/usr/bin/env bash
# API fuzzing: schemathesis against the OpenAPI document a dev node serves.
# Fails on any 5xx, or a response that violates the documented schema, status codes or
# content types (every error, extractor rejections included, is JSON: src/http/extract.rs).
#   tests/schemathesis.sh [max-examples per operation, default 30]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${QUORUMDNS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/quorumdns}"
EXAMPLES="${1:-30}"
# From PyPI into a venv of its own (Debian's Python refuses `pip install --user`).
if ! command -v schemathesis >/dev/null; then
  VENV="${TMPDIR:-/tmp}/quorumdns-schemathesis-venv"
  [ -x "$VENV/bin/schemathesis" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q schemathesis; }
  PATH="$VENV/bin:$PATH"
fi
DIR="$(mktemp -d)"
TOKEN="schemathesis-admin-token-0123456789"
PORT=$((20000 + RANDOM % 20000))
# The auth-failure throttle would (correctly) lock schemathesis out after its negative
# authentication cases; it has its own e2e test.
{ cat "$ROOT/src/config/dev.toml"; printf '\n[http]\nauth_fail_limit = 0\n[dyndns]\npublic_url = "http://127.0.0.1:%s"\n' "$PORT"; } >"$DIR/node.toml"
QUORUMDNS_ADMIN_TOKEN="$TOKEN" "$BIN" serve --config "$DIR/node.toml" --data-dir "$DIR" \
  --http-addr "127.0.0.1:$PORT" --dns-addr 127.0.0.1:0 --raft-addr 127.0.0.1:0 >"$DIR/node.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -q "node ready" "$DIR/node.log" && break; sleep 0.2; done
schemathesis run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "$EXAMPLES" --workers 1 --request-timeout 30
