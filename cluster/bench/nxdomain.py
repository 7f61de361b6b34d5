#!/usr/bin/env python3
"""NXDOMAIN against positive answers, end to end: the benchmark zone (100k A + 10k AAAA)
on each server, then dnsperf with a query file of existing names only and one of missing
names only, 3 interleaved rounds: server CPU per query at -Q 40000 and saturation q/s
(medians). Same method and helpers as dns-compare.py.

  cluster/bench/nxdomain.py [BIN] [quorumdns,knot,nsd]
"""
import argparse, importlib.util, os, sys, time, shutil, subprocess, tempfile, random
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("dc", os.path.join(HERE, "dns-compare.py"))
dc = importlib.util.module_from_spec(spec); spec.loader.exec_module(dc)
ap = argparse.ArgumentParser()
ap.add_argument("bin", nargs="?", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/quorumdns"))
ap.add_argument("servers", nargs="?", default="quorumdns,knot,nsd")
a = ap.parse_args()
work = tempfile.mkdtemp(prefix="nx-")
binary = os.path.join(work, "q.bin"); shutil.copy(a.bin, binary)
subprocess.run([sys.executable, os.path.join(HERE, "gen-zone.py"), dc.ZONE, "100000", work], check=True, capture_output=True)
zonefile = os.path.join(work, f"{dc.ZONE}.zone")
random.seed(7)
files = {}
for kind, fmt in (("positive", "h{}"), ("nxdomain", "nx{}")):
    p = os.path.join(work, kind + ".txt"); files[kind] = p
    with open(p, "w") as f:
        for _ in range(200_000): f.write(fmt.format(random.randrange(100000)) + f".{dc.ZONE} A\n")
servers = []
try:
    for i, name in enumerate(a.servers.split(",")):
        d = os.path.join(work, name); os.makedirs(d)
        s = dc.Server(name, 25400 + 10 * i, d); servers.append(s)
        {"quorumdns": lambda s: dc.start_quorumdns(s, binary, zonefile), "knot": lambda s: dc.start_knot(s, zonefile), "nsd": lambda s: dc.start_nsd(s, zonefile)}[name](s)
    time.sleep(3)
    res = {}
    for r in range(3):
        for s in servers:
            for kind in ("positive", "nxdomain"):
                c0 = dc.cpu_ticks(s.proc.pid)
                out = dc.dnsperf(s, files[kind], 4, qps=40000)
                c1 = dc.cpu_ticks(s.proc.pid)
                us = (c1 - c0) / os.sysconf("SC_CLK_TCK") * 1e6 / (out["qps"] * 4)
                sat = dc.dnsperf(s, files[kind], 4)["qps"]
                res.setdefault((s.name, kind), []).append((us, sat))
    for (name, kind), v in sorted(res.items()):
        us = sorted(x[0] for x in v)[1]; sat = sorted(x[1] for x in v)[1]
        print(f"{name:10} {kind:9} cpu/q @40k {us:6.2f} us   saturation {sat:9.0f} q/s")
finally:
    for s in servers: s.stop()
    shutil.rmtree(work, ignore_errors=True)
