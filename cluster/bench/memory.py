#!/usr/bin/env python3
"""Memory per record: one quorumdns node (or several binaries, interleaved) with the benchmark
zone imported through the API, RSS read from /proc/PID/status one second after the last name
answers. RSS does not depend on CPU load, so runs on a busy machine compare fine.

  cluster/bench/memory.py --sizes 10000,100000,1000000 [--bin B] [--base-bin OLD]

Prints, per size and binary: VmRSS, VmHWM (peak, the import's temporaries), RSS of an empty
node, and bytes per record of (RSS - empty) over the zone's records (N A + N/10 AAAA)."""
import argparse
import os
import shutil
import sys
import tempfile
import time

import benchlib as bl

TABLE = bl.Table(("A hosts", ">9"), ("binary", "<10"), ("RSS MiB", ">8.0f"), ("peak MiB", ">9.0f"),
                 ("empty MiB", ">10.0f"), ("B/record", ">9.0f"), ("import s", ">9.1f"))


def measure(binary, zonefile, work, port):
    s = bl.Server("q", port, work)
    try:
        bl.start_quorumdns(s, binary, zonefile)
        # The node returns the import's freed memory to the kernel 2 s after the zone is built.
        time.sleep(3)
        rss, hwm = bl.status_kib(s.proc.pid, "VmRSS"), bl.status_kib(s.proc.pid, "VmHWM")
        return rss, hwm, s.load_secs
    finally:
        s.stop()


def empty_rss(binary, work, port):
    empty_zone = os.path.join(work, "empty.zone")
    with open(empty_zone, "w") as f:
        f.write(bl.zone_header(bl.ZONE) + "h1 IN A 10.0.0.1\n")
    return measure(binary, empty_zone, work, port)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--bin", default=bl.DEFAULT_BIN)
    ap.add_argument("--base-bin", help="an older binary, measured interleaved with --bin")
    a = ap.parse_args()
    with bl.workdir("qdns-memory-") as work:
        bins = []
        if a.base_bin:
            bins.append(("base", bl.private_copy(a.base_bin, work, "base.bin")))
        bins.append(("new" if a.base_bin else "quorumdns", bl.private_copy(a.bin, work, "new.bin")))
        port = 25600
        base_rss = {}
        for name, b in bins:
            d = tempfile.mkdtemp(dir=work)
            base_rss[name] = empty_rss(b, d, port)
            port += 10
        rows = []
        for n in [int(x) for x in a.sizes.split(",")]:
            zonefile, _ = bl.gen_zone(bl.ZONE, n, tempfile.mkdtemp(dir=work))
            records = n + n // 10
            for name, b in bins:
                d = tempfile.mkdtemp(dir=work)
                rss, hwm, load = measure(b, zonefile, d, port)
                port += 10
                per = (rss - base_rss[name]) * 1024 / records
                rows.append((n, name, rss / 1024, hwm / 1024, base_rss[name] / 1024, per, load))
                print(f"# {n} {name}: RSS {rss / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB, {per:.0f} B/record, "
                      f"load {load:.1f} s", file=sys.stderr)
                shutil.rmtree(d, ignore_errors=True)
        print(f"\n{TABLE.header()}")
        for row in rows:
            print(TABLE.row(*row))


if __name__ == "__main__":
    main()
