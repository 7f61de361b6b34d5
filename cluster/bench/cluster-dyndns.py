#!/usr/bin/env python3
"""dyndns2 /nic/update through a 3-node (or --nodes N) loopback cluster with fsync on every
node: the load generator (examples/dyndns_load.rs) runs against the leader, then against a
follower (forwarded), for each client count; --base-bin runs an older binary the same way,
interleaved. Prints dyndns_load's line (updates/s, p50/p99) per run.

  cluster/bench/cluster-dyndns.py --clients 32,128 --seconds 10 [--bin B] [--base-bin OLD] [--bind]
"""
import argparse
import os
import subprocess

import benchlib as bl

# Keys of the nodes' [dyndns] section: no rate limit (every update changes the address).
DYNDNS = "min_update_interval_secs = 0\ncredential_cache = true\n"


def cluster(binary, work, nodes, procs):
    """Starts `nodes` nodes into `procs`; node 1 bootstraps, the others join as learners and
    are promoted."""
    procs.append(bl.start_node(binary, work, 1, True, dyndns=DYNDNS))
    bl.wait_http(bl.http_port(1), "/readyz", tries=100)
    for i in range(2, nodes + 1):
        procs.append(bl.start_node(binary, work, i, False, dyndns=DYNDNS))
        bl.add_node(i, wait_secs=30)
        bl.api(bl.http_port(1), f"/api/v1/cluster/nodes/{i}/promote", "POST")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="32,128")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--bin", default=bl.DEFAULT_BIN)
    ap.add_argument("--load-bin", default=bl.target_path("release/examples/dyndns_load"))
    ap.add_argument("--base-bin")
    ap.add_argument("--bind", action="store_true", help="then BIND's RFC 2136 rate (bind-update.py 2000 20)")
    a = ap.parse_args()
    bins = ([("base", a.base_bin)] if a.base_bin else []) + [("new" if a.base_bin else "quorumdns", a.bin)]
    for clients in [int(c) for c in a.clients.split(",")]:
        for name, b in bins:
            procs = []
            with bl.workdir("qdns-cluster-dyndns-", procs) as work:
                binary = bl.private_copy(b, work, "quorumdns")
                bl.write_secrets(work)
                cluster(binary, work, a.nodes, procs)
                for target, port in (("leader", bl.http_port(1)), ("follower", bl.http_port(2))):
                    r = subprocess.run([a.load_bin, "--url", f"http://127.0.0.1:{port}", "--token", bl.TOKEN,
                                        "--clients", str(clients), "--seconds", str(a.seconds),
                                        "--requests", "10000000"], capture_output=True, text=True)
                    print(f"{name:<9} {a.nodes} nodes, to the {target:<8} {r.stdout.strip()} {r.stderr.strip()[-200:]}",
                          flush=True)
    if a.bind:
        subprocess.run(["/usr/bin/python3", os.path.join(bl.HERE, "bind-update.py"), "2000", "20"], check=False)


if __name__ == "__main__":
    main()
