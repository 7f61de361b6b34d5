#!/usr/bin/env python3
"""NXDOMAIN against positive answers, end to end: the benchmark zone (100k A + 10k AAAA)
on each server, then dnsperf with a query file of existing names only and one of missing
names only, 3 interleaved rounds: server CPU per query at -Q 40000 and saturation q/s
(medians). Same method and helpers as dns-compare.py (benchlib).

  cluster/bench/nxdomain.py [BIN] [quorumdns,knot,nsd]
"""
import argparse
import os
import random
import time

import benchlib as bl


def query_files(work):
    """200k queries of existing names only (positive) and of missing names only (nxdomain)."""
    rng = random.Random(7)
    files = {}
    for kind, fmt in (("positive", "h{}"), ("nxdomain", "nx{}")):
        files[kind] = os.path.join(work, kind + ".txt")
        with open(files[kind], "w") as f:
            for _ in range(200_000):
                f.write(fmt.format(rng.randrange(100000)) + f".{bl.ZONE} A\n")
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin", nargs="?", default=bl.DEFAULT_BIN)
    ap.add_argument("servers", nargs="?", default="quorumdns,knot,nsd")
    a = ap.parse_args()
    servers = []
    with bl.workdir("nx-", servers) as work:
        binary = bl.private_copy(a.bin, work, "q.bin")
        zonefile, _ = bl.gen_zone(bl.ZONE, 100000, work)
        files = query_files(work)
        starters = bl.starters(binary, zonefile)
        bl.start_servers(a.servers.split(","), starters, work, servers)
        time.sleep(3)
        res = {}
        for r in range(3):
            for s in servers:
                for kind in ("positive", "nxdomain"):
                    us = bl.dnsperf(s, files[kind], 4, qps=40000)["cpu_us"]
                    sat = bl.dnsperf(s, files[kind], 4)["qps"]
                    res.setdefault((s.name, kind), []).append((us, sat))
        for (name, kind), v in sorted(res.items()):
            us = sorted(x[0] for x in v)[1]
            sat = sorted(x[1] for x in v)[1]
            print(f"{name:10} {kind:9} cpu/q @40k {us:6.2f} us   saturation {sat:9.0f} q/s")


if __name__ == "__main__":
    main()
