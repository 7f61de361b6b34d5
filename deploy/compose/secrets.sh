#!/usr/bin/env bash
# Creates the compose cluster's secrets (once): deploy/compose/secrets/{admin_token,cluster_secret}.
# They are bind-mounted read-only at /run/secrets/ and must be readable by the image's
# user (uid 65532).
set -euo pipefail
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
for name in admin_token cluster_secret; do
  [ -s "$dir/$name" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/$name"
  chmod 0644 "$dir/$name"
done
echo "secrets in $dir (admin token: $dir/admin_token)"
