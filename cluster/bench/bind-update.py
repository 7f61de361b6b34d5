#!/usr/bin/python3
"""The peer for the update benchmark: BIND taking RFC 2136 updates of dyndns-like A
records (one name per update, like /nic/update), sequentially and with IN_FLIGHT updates
in flight. BIND writes its journal per update (fsync), like quorumdns's fsynced log.
Prints updates/s and p50/p99 latency. Needs: named (bind9), python3-dnspython.
Usage: cluster/bench/bind-update.py [UPDATES] [IN_FLIGHT]"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time

import dns.query
import dns.update

ZONE, PORT = "upd.test", 25490
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
IN_FLIGHT = int(sys.argv[2]) if len(sys.argv) > 2 else 20


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
    work = tempfile.mkdtemp(prefix="bind-update-")
    try:
        with open(f"{work}/{ZONE}.zone", "w") as f:
            f.write(f"$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\n")
            for i in range(1000):
                f.write(f"h{i} A 10.8.{i // 256}.{i % 256}\n")
        with open(f"{work}/named.conf", "w") as f:
            f.write(f"""options {{ directory "{work}"; pid-file "{work}/named.pid";
  listen-on port {PORT} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; notify no; }};
controls {{ }};
zone "{ZONE}" {{ type primary; file "{work}/{ZONE}.zone"; allow-update {{ 127.0.0.1; }}; }};
""")
        proc = subprocess.Popen(["named", "-g", "-n", "1", "-c", f"{work}/named.conf"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)
            for label, workers, base in [("sequential", 1, 0), (f"{IN_FLIGHT} in flight", IN_FLIGHT, 20000)]:
                rate, p50, p99 = run(N, workers, base)
                print(f"bind RFC 2136 {label:<14} {rate:8.0f} updates/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        finally:
            proc.terminate()
            proc.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
