#!/usr/bin/env python3
"""DNS query benchmark: quorumdns side by side with NSD, Knot and BIND in the same run.

Every server is loaded with the same zone (benchlib.gen_zone: N A + N/10 AAAA) and pinned to
core 1; dnsperf runs on core 0. The servers run at the same time on different ports (an
idle server costs nothing) and the tests are interleaved round by round, so the ratios are
measured under the same background noise. Reported per server (median of ROUNDS):
  udp q/s     saturation (dnsperf cannot go much above ~150-200k q/s on one core: at that
              ceiling q/s cannot rank servers, CPU per query can)
  cpu/q       server CPU (utime+stime of the whole process tree, /proc) per answered query
              at a fixed offered load (-Q LOAD)
  p50/p99     latency at that fixed load (from dnsperf -v)
  tcp q/s     saturation over TCP (dnsperf -m tcp)
  PSS, RSS    proportional set size of the process tree, and the RSS of its largest process,
              with the zone loaded

Usage: cluster/bench/dns-compare.py [--records N] [--seconds S] [--rounds R] [--load Q]
       [--servers quorumdns,nsd,knot,bind] [--bin path/to/quorumdns] [--base-bin old/quorumdns]
       [--extra-bin NAME=path/to/quorumdns ...]
Needs: dnsperf, nsd, knot, bind9 (Debian packages), a release build of quorumdns.
"""
import argparse
import statistics
import sys
import time

import benchlib as bl


# The summary table: medians per server, then quorumdns (the first server) over each.
TABLE = bl.Table(("server", "<10"), ("udp q/s", ">9.0f"), ("cpu/q us", ">9.2f"), ("p50 us", ">7.0f"),
                 ("p99 us", ">7.0f"), ("tcp q/s", ">9.0f"), ("PSS MiB", ">8.0f"), ("RSS MiB", ">8.0f"),
                 ("load s", ">7.1f"), ("|", None), ("udp", ">5.2f"), ("cpu", ">5.2f"), ("tcp", ">5.2f"),
                 ("rss", ">5.2f"), header_suffix="  (quorumdns/peer)")


def memory(s):
    """PSS of the tree and RSS of its largest process once the zone is loaded, kept on s."""
    # quorumdns returns an import's freed memory to the kernel 2 s after the zone is built.
    time.sleep(3)
    s.pss, s.rss = bl.pss_kib(s.proc.pid), bl.max_status_kib(s.proc.pid, "VmRSS")
    # RssAnon: heap and stacks, without the mapped binary and libraries.
    anon = bl.max_status_kib(s.proc.pid, "RssAnon")
    print(f"# {s.name}: loaded in {s.load_secs:.1f} s, PSS {s.pss / 1024:.0f} MiB, RSS {s.rss / 1024:.0f} MiB, "
          f"RssAnon {anon / 1024:.0f} MiB", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--load", type=int, default=40_000)
    ap.add_argument("--servers", default="quorumdns,nsd,knot,bind")
    ap.add_argument("--tcp", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--bin", default=bl.DEFAULT_BIN)
    ap.add_argument("--base-bin", help="an older quorumdns binary, run as server 'base' (before/after)")
    ap.add_argument("--extra-bin", action="append", default=[], metavar="NAME=PATH",
                    help="one more quorumdns binary, run as server NAME (repeatable; list NAME in --servers)")
    a = ap.parse_args()
    servers = []
    with bl.workdir("dns-compare-", servers) as work:
        binary = bl.private_copy(a.bin, work, "quorumdns.bin")
        zonefile, queries = bl.gen_zone(bl.ZONE, a.records, work)
        starters = bl.starters(binary, zonefile)
        # the same binary with the tokio task UDP loop instead of recvmmsg threads
        starters["qdns-tokio"] = lambda s: bl.start_quorumdns(s, binary, zonefile, {"QUORUMDNS_UDP_LOOP": "tokio"})
        # the same binary reading at once under load (dns.udp_coalesce_us = 0)
        starters["qdns-nocoalesce"] = lambda s: bl.start_quorumdns(s, binary, zonefile,
                                                                   args=["--udp-coalesce-us", "0"])
        others = [("base", a.base_bin)] if a.base_bin else []
        for name, path in others + [extra.split("=", 1) for extra in a.extra_bin]:
            copy = bl.private_copy(path, work, f"{name}.bin")
            starters[name] = lambda s, copy=copy: bl.start_quorumdns(s, copy, zonefile)
        bl.start_servers(a.servers.split(","), starters, work, servers, loaded=memory)
        results = {s.name: [] for s in servers}
        for r in range(a.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order:
                row = {"udp": bl.dnsperf(s, queries, a.seconds)["qps"]}
                fixed = bl.dnsperf(s, queries, a.seconds, qps=a.load, verbose=True)
                row.update(cpu_us=fixed["cpu_us"], p50=fixed["p50"], p99=fixed["p99"])
                row["tcp"] = bl.dnsperf(s, queries, a.seconds, mode="tcp")["qps"] if a.tcp else float("nan")
                results[s.name].append(row)
                print(f"# round {r + 1} {s.name}: {row}", file=sys.stderr)
        med = {n: {k: statistics.median(x[k] for x in rows) for k in rows[0]} for n, rows in results.items()}
        ref = med[servers[0].name]
        print(f"\n{a.records} A + {a.records // 10} AAAA, 90% A / 5% AAAA / 5% NXDOMAIN; median of {a.rounds} "
              f"interleaved rounds of {a.seconds} s; cpu/q and latency at -Q {a.load}")
        print(TABLE.header())
        for s in servers:
            m = med[s.name]
            print(TABLE.row(s.name, m["udp"], m["cpu_us"], m["p50"], m["p99"], m["tcp"], s.pss / 1024, s.rss / 1024,
                            s.load_secs, ref["udp"] / m["udp"], ref["cpu_us"] / m["cpu_us"],
                            ref["tcp"] / m["tcp"] if m["tcp"] else float("nan"), servers[0].rss / s.rss))


if __name__ == "__main__":
    main()
