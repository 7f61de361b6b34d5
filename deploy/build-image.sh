#!/usr/bin/env bash
# Builds the quorumdns container image locally, without pulling anything: `FROM scratch`
# with the release binary and exactly the shared libraries `ldd` lists for it (glibc,
# libgcc_s, libm and the loader), so the image runs the same binary the tests ran.
#
#   deploy/build-image.sh [TAG]          (default tag: quorumdns:local)
#   QUORUMDNS_BIN=path/to/quorumdns deploy/build-image.sh   (skip cargo build)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-quorumdns:local}"

bin="${QUORUMDNS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked --bin quorumdns
  bin="${CARGO_TARGET_DIR:-target}/release/quorumdns"
fi
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/quorumdns" "$ctx/rootfs/tmp" "$ctx/data"
touch "$ctx/data/.keep"
# Debug info stays in the build tree; the image gets a stripped copy.
objcopy --strip-debug "$bin" "$ctx/rootfs/usr/local/bin/quorumdns" 2>/dev/null || cp "$bin" "$ctx/rootfs/usr/local/bin/quorumdns"
# Every library the dynamic loader will ask for, at the path it will ask for it.
ldd "$bin" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}' | sort -u | while read -r lib; do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
# Name resolution for reqwest (peer addresses may be names in compose/kubernetes).
printf 'hosts: files dns\n' >"$ctx/rootfs/etc/nsswitch.conf"
printf 'quorumdns:x:65532:65532::/var/lib/quorumdns:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
printf 'quorumdns:x:65532:\n' >"$ctx/rootfs/etc/group"

cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
# COPY makes everything root's; the data directory (and so a fresh volume) is the user's.
COPY --chown=65532:65532 data/ /var/lib/quorumdns/
USER 65532:65532
VOLUME /var/lib/quorumdns
EXPOSE 53/udp 53/tcp 8053/tcp 7053/tcp
ENTRYPOINT ["/usr/local/bin/quorumdns"]
CMD ["serve", "--config", "/etc/quorumdns/quorumdns.toml"]
DOCKERFILE
chmod 1777 "$ctx/rootfs/tmp"

DOCKER_BUILDKIT=0 docker build --pull=false -q -t "$tag" "$ctx" >/dev/null
docker run --rm "$tag" --version
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
