#!/usr/bin/env python3
"""dyndns2 /nic/update through a 3-node (or --nodes N) loopback cluster with fsync on every
node: the load generator (examples/dyndns_load.rs) runs against the leader, then against a
follower (forwarded), for each client count; --base-bin runs an older binary the same way,
interleaved. Prints dyndns_load's line (updates/s, p50/p99) per run.

  cluster/bench/cluster-dyndns.py --clients 32,128 --seconds 10 [--bin B] [--base-bin OLD] [--bind]
"""
import argparse
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("catchup", os.path.join(HERE, "catchup.py"))
cu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cu)

DYNDNS = "[dyndns]\nmin_update_interval_secs = 0\ncredential_cache = true\n"


def cluster(binary, work, nodes):
    """Starts `nodes` nodes; node 1 bootstraps, the others join as learners and are promoted."""
    orig = cu.config

    def config(w, i, bootstrap):
        path = orig(w, i, bootstrap)
        with open(path, "a") as f:
            f.write(DYNDNS)
        return path

    cu.config = config
    try:
        procs = [cu.start(binary, work, 1, True)]
        for _ in range(100):
            try:
                if cu.urllib.request.urlopen("http://127.0.0.1:26101/readyz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        for i in range(2, nodes + 1):
            procs.append(cu.start(binary, work, i, False))
            cu.api(26101, "/api/v1/cluster/nodes", "POST", {"id": i, "raft_addr": f"127.0.0.1:{26200 + i}",
                                                            "http_addr": f"127.0.0.1:{26100 + i}",
                                                            "dns_addr": f"127.0.0.1:{26000 + i}", "wait_secs": 30})
            cu.api(26101, f"/api/v1/cluster/nodes/{i}/promote", "POST")
        return procs
    finally:
        cu.config = orig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="32,128")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/quorumdns"))
    ap.add_argument("--load-bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"),
                                                        "release/examples/dyndns_load"))
    ap.add_argument("--base-bin")
    ap.add_argument("--bind", action="store_true", help="then BIND's RFC 2136 rate (bind-update.py 2000 20)")
    a = ap.parse_args()
    bins = ([("base", a.base_bin)] if a.base_bin else []) + [("new" if a.base_bin else "quorumdns", a.bin)]
    for clients in [int(c) for c in a.clients.split(",")]:
        for name, b in bins:
            work = tempfile.mkdtemp(prefix="qdns-cluster-dyndns-")
            procs = []
            try:
                binary = os.path.join(work, "quorumdns")
                shutil.copy(b, binary)
                for fname, value in (("admin.token", cu.TOKEN), ("cluster.secret", cu.SECRET)):
                    with open(os.path.join(work, fname), "w") as f:
                        f.write(value)
                    os.chmod(os.path.join(work, fname), 0o600)
                procs = cluster(binary, work, a.nodes)
                for target, port in (("leader", 26101), ("follower", 26102)):
                    r = subprocess.run([a.load_bin, "--url", f"http://127.0.0.1:{port}", "--token", cu.TOKEN,
                                        "--clients", str(clients), "--seconds", str(a.seconds),
                                        "--requests", "10000000"], capture_output=True, text=True)
                    print(f"{name:<9} {a.nodes} nodes, to the {target:<8} {r.stdout.strip()} {r.stderr.strip()[-200:]}",
                          flush=True)
            finally:
                cu.stop(procs)
                shutil.rmtree(work, ignore_errors=True)
    if a.bind:
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "bind-update.py"), "2000", "20"], check=False)


if __name__ == "__main__":
    main()
