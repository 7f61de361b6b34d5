#!/usr/bin/env bash
# The test command (README and .ci/run both call this): installs the real clients the
# tests drive (dig), then runs every test: unit, property, component and process-level.
# Longer suites (benchmarks, fault injection) have their own commands; see README.
set -euo pipefail
cd "$(dirname "$0")/.."

# The gates first: format, clippy, unused dependencies, layering (tests/lint.sh).
tests/lint.sh

need_pkgs=()
command -v dig >/dev/null 2>&1 || need_pkgs+=(dnsutils)
# Real secondaries for tests/e2e/secondaries.rs; the tests run them in the foreground with
# their own config, so the packages' services are kept from starting (policy-rc.d below).
command -v named >/dev/null 2>&1 || need_pkgs+=(bind9)
command -v knotd >/dev/null 2>&1 || need_pkgs+=(knot)
# Real dynamic DNS clients driven by tests/e2e/dyndns.rs.
command -v ddclient >/dev/null 2>&1 || need_pkgs+=(ddclient)
command -v inadyn >/dev/null 2>&1 || [ -x /usr/sbin/inadyn ] || need_pkgs+=(inadyn)
# ddclient over https (tests/e2e/tls.rs) needs Perl's TLS module (only a Recommends).
perl -MIO::Socket::SSL -e 1 >/dev/null 2>&1 || need_pkgs+=(libio-socket-ssl-perl)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
# tests/e2e/tls.rs and acme_clients.rs make certificates (and read served ones) with openssl.
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# promtool (Debian package prometheus) checks /metrics output and deploy/prometheus rules.
command -v promtool >/dev/null 2>&1 || need_pkgs+=(prometheus)
# tests/e2e/rfc2136.rs: nsupdate (bind9-dnsutils, above) and a venv for dnspython/certbot.
command -v nsupdate >/dev/null 2>&1 || need_pkgs+=(bind9-dnsutils)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
# tests/e2e/acme_clients.rs: a real ACME issuance with lego against pebble (the ACME test
# CA), whose HTTPS certificate the test makes with openssl.
command -v lego >/dev/null 2>&1 || need_pkgs+=(lego)
command -v pebble >/dev/null 2>&1 || need_pkgs+=(pebble)
if ((${#need_pkgs[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need_pkgs[*]}"
    apt-get update -qq
    # Exit code 101 tells invoke-rc.d not to start services during installation.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # ddclient asks debconf questions in its postinst; noninteractive takes the defaults
    # (and its service is not started in a container without an init system).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "missing test tools: ${need_pkgs[*]} (install them, e.g. apt-get install ${need_pkgs[*]})" >&2
    exit 1
  fi
fi

# The previous release's binary for the rolling-upgrade test (tests/e2e/upgrade.rs).
tests/upgrade-base.sh

cargo build --locked --all-targets
cargo test --locked --all-targets -- --test-threads="${TEST_THREADS:-4}"

# The compose cluster from the locally built image (deploy/), when Docker is there.
if command -v docker >/dev/null 2>&1 && command -v docker-compose >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  cargo test --locked --test e2e compose:: -- --ignored --nocapture
else
  echo "docker/docker-compose not available: skipping the compose cluster test"
fi

# Jepsen-style fault injection (jepsen/, docs/jepsen.md): two short runs against a 5-node
# cluster in containers, when Docker is there. The debug binary the tests just built goes
# into the image (no release build here), and the harness is built without optimizations.
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  export QUORUMDNS_BIN="${CARGO_TARGET_DIR:-target}/debug/quorumdns"
  export QUORUMDNS_JEPSEN_PROFILE=dev
  jepsen/run --nemesis partition-leader --time 40 --seed 1
  jepsen/run --nemesis kill --time 40 --seed 2
  unset QUORUMDNS_BIN QUORUMDNS_JEPSEN_PROFILE
else
  echo "docker not available: skipping the jepsen runs"
fi

# A short fuzz run of every cargo-fuzz target (fuzz/run.sh; longer by hand, e.g.
# `fuzz/run.sh 600`). FUZZ_SECS=0 skips it.
if [ "${FUZZ_SECS:-20}" != 0 ]; then
  fuzz/run.sh "${FUZZ_SECS:-20}"
fi
