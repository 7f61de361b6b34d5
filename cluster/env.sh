# Sourced by the cluster scripts: where the binary and the secrets are.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${QUORUMDNS_BIN:-target/release/quorumdns}
DATA=cluster/data
if [ ! -x "$BIN" ]; then
  echo "building $BIN (set QUORUMDNS_BIN to use another binary)" >&2
  cargo build --release --bin quorumdns >&2
fi
mkdir -p "$DATA"
[ -s "$DATA/cluster.secret" ] || (umask 077; head -c 32 /dev/urandom | base64 > "$DATA/cluster.secret")
[ -s "$DATA/admin.token" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$DATA/admin.token")
export QUORUMDNS_ADMIN_TOKEN
QUORUMDNS_ADMIN_TOKEN=$(cat "$DATA/admin.token")
http() { echo "http://127.0.0.1:805$1"; }
