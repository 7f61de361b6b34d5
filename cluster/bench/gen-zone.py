#!/usr/bin/env python3
"""Writes the benchmark zone (N A records + N/10 AAAA) and a dnsperf query file
(90% existing A, 5% AAAA, 5% NXDOMAIN) into OUTDIR as ZONE.zone and queries.txt.
Usage: gen-zone.py ZONE N OUTDIR"""
import argparse

import benchlib

ap = argparse.ArgumentParser(description=__doc__.rsplit("\n", 1)[0])
ap.add_argument("zone", metavar="ZONE")
ap.add_argument("n", metavar="N", type=int)
ap.add_argument("outdir", metavar="OUTDIR")
a = ap.parse_args()
benchlib.gen_zone(a.zone, a.n, a.outdir)
