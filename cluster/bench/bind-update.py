#!/usr/bin/python3
"""The peer for the update benchmark: BIND taking RFC 2136 updates of dyndns-like A
records (one name per update, like /nic/update), sequentially and with IN_FLIGHT updates
in flight. BIND writes its journal per update (fsync), like quorumdns's fsynced log.
Prints updates/s and p50/p99 latency. Needs: named (bind9), python3-dnspython.
Usage: cluster/bench/bind-update.py [UPDATES] [IN_FLIGHT]"""
import argparse
import concurrent.futures
import os
import subprocess
import time

import dns.query
import dns.update

import benchlib as bl

ZONE, PORT = "upd.test", 25490


def run(n, workers, base):
    def one(i):
        u = dns.update.Update(ZONE)
        u.replace(f"h{i % 1000}", 60, "A", f"10.9.{(base + i) // 256 % 256}.{(base + i) % 256}")
        t = time.perf_counter()
        r = dns.query.tcp(u, "127.0.0.1", port=PORT, timeout=10)
        assert r.rcode() == 0, r.rcode()
        return time.perf_counter() - t
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        lat = sorted(ex.map(one, range(n)))
    secs = time.perf_counter() - t0
    return n / secs, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("updates", metavar="UPDATES", nargs="?", type=int, default=2000)
    ap.add_argument("in_flight", metavar="IN_FLIGHT", nargs="?", type=int, default=20)
    a = ap.parse_args()
    running = []
    with bl.workdir("bind-update-", running) as work:
        zonefile = os.path.join(work, f"{ZONE}.zone")
        with open(zonefile, "w") as f:
            f.write(bl.zone_header(ZONE, ttl=60))
            for i in range(1000):
                f.write(f"h{i} A 10.8.{i // 256}.{i % 256}\n")
        conf = bl.named_conf(work, PORT, ZONE, zonefile, zone_options="allow-update { 127.0.0.1; }; ")
        running.append(subprocess.Popen(["named", "-g", "-n", "1", "-c", conf],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Over TCP, as the updates are sent.
        if not bl.wait_answer(PORT, f"h1.{ZONE}", timeout=30, tcp=True):
            raise SystemExit(f"named did not answer on port {PORT}")
        for label, workers, base in [("sequential", 1, 0), (f"{a.in_flight} in flight", a.in_flight, 20000)]:
            rate, p50, p99 = run(a.updates, workers, base)
            print(f"bind RFC 2136 {label:<14} {rate:8.0f} updates/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")


if __name__ == "__main__":
    main()
