#!/usr/bin/env python3
"""Writes the benchmark zone (N A records + N/10 AAAA) and a dnsperf query file
(90% existing A, 5% AAAA, 5% NXDOMAIN). Usage: gen-zone.py ZONE N OUTDIR"""
import random
import sys

zone, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(1)
with open(f"{out}/{zone}.zone", "w") as f:
    f.write(f"$ORIGIN {zone}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n")
    for i in range(n):
        f.write(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
    for i in range(n // 10):
        f.write(f"h{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")
with open(f"{out}/queries.txt", "w") as f:
    for _ in range(200_000):
        r = random.random()
        if r < 0.90:
            f.write(f"h{random.randrange(n)}.{zone} A\n")
        elif r < 0.95:
            f.write(f"h{random.randrange(n // 10)}.{zone} AAAA\n")
        else:
            f.write(f"nx{random.randrange(n)}.{zone} A\n")
