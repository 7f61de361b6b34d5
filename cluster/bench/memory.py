#!/usr/bin/env python3
"""Memory per record: one quorumdns node (or several binaries, interleaved) with the benchmark
zone imported through the API, RSS read from /proc/PID/status one second after the last name
answers. RSS does not depend on CPU load, so runs on a busy machine compare fine.

  cluster/bench/memory.py --sizes 10000,100000,1000000 [--bin B] [--base-bin OLD]

Prints, per size and binary: VmRSS, VmHWM (peak, the import's temporaries), RSS of an empty
node, and bytes per record of (RSS - empty) over the zone's records (N A + N/10 AAAA)."""
import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("dns_compare", os.path.join(HERE, "dns-compare.py"))
dc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dc)


def measure(binary, zonefile, work, port):
    s = dc.Server("q", port, work)
    try:
        dc.start_quorumdns(s, binary, zonefile)
        # The node returns the import's freed memory to the kernel 2 s after the zone is built.
        time.sleep(3)
        rss, hwm = dc.status_kib(s.proc.pid, "VmRSS"), dc.status_kib(s.proc.pid, "VmHWM")
        return rss, hwm, s.load_secs
    finally:
        s.stop()


def empty_rss(binary, work, port):
    empty_zone = os.path.join(work, "empty.zone")
    with open(empty_zone, "w") as f:
        f.write(f"$ORIGIN {dc.ZONE}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\n"
                "ns1 IN A 192.0.2.53\nh1 IN A 10.0.0.1\n")
    return measure(binary, empty_zone, work, port)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/quorumdns"))
    ap.add_argument("--base-bin", help="an older binary, measured interleaved with --bin")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="qdns-memory-")
    try:
        bins = []
        if a.base_bin:
            shutil.copy(a.base_bin, os.path.join(work, "base.bin"))
            bins.append(("base", os.path.join(work, "base.bin")))
        shutil.copy(a.bin, os.path.join(work, "new.bin"))
        bins.append(("new" if a.base_bin else "quorumdns", os.path.join(work, "new.bin")))
        port = 25600
        base_rss = {}
        for name, b in bins:
            d = tempfile.mkdtemp(dir=work)
            base_rss[name] = empty_rss(b, d, port)
            port += 10
        rows = []
        for n in [int(x) for x in a.sizes.split(",")]:
            zd = tempfile.mkdtemp(dir=work)
            subprocess.run([sys.executable, os.path.join(HERE, "gen-zone.py"), dc.ZONE, str(n), zd], check=True)
            zonefile = os.path.join(zd, f"{dc.ZONE}.zone")
            records = n + n // 10
            for name, b in bins:
                d = tempfile.mkdtemp(dir=work)
                rss, hwm, load = measure(b, zonefile, d, port)
                port += 10
                per = (rss - base_rss[name]) * 1024 / records
                rows.append((n, name, rss, hwm, base_rss[name], per, load))
                print(f"# {n} {name}: RSS {rss / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB, {per:.0f} B/record, "
                      f"load {load:.1f} s", file=sys.stderr)
                shutil.rmtree(d, ignore_errors=True)
        print(f"\n{'A hosts':>9} {'binary':<10} {'RSS MiB':>8} {'peak MiB':>9} {'empty MiB':>10} {'B/record':>9} {'import s':>9}")
        for n, name, rss, hwm, empty, per, load in rows:
            print(f"{n:>9} {name:<10} {rss / 1024:>8.0f} {hwm / 1024:>9.0f} {empty / 1024:>10.0f} {per:>9.0f} {load:>9.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
