#!/usr/bin/env python3
"""A new member catching up with a big zone: node 1 imports the benchmark zone (N A + N/10
AAAA), takes a snapshot (GET /api/v1/backup, which also purges the log behind it, so the
learner must receive the snapshot, not the log), then node 2 starts empty and is added as a
learner. Measures the snapshot build time and size, the time from `cluster add` until node 2's
applied index reaches the leader's last log index, and until node 2 answers the last name;
then node 1 is stopped and started again, timed until it answers the last name (restart to
ready).

  cluster/bench/catchup.py --records 1000000 [--bin B]
"""
import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("dns_compare", os.path.join(HERE, "dns-compare.py"))
dc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dc)
ZONE = "bench.test"
TOKEN = "bench-admin-token-0123456789"
SECRET = "bench-cluster-secret-0123456789abcdef"


def api(port, path, method="GET", body=None, timeout=600):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if body is not None and not isinstance(body, bytes):
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read()[:300]!r}")


def config(work, i, bootstrap):
    d = os.path.join(work, f"node{i}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(work, f"node{i}.toml")
    with open(path, "w") as f:
        f.write(f"""[node]
id = {i}
data_dir = "{d}"
dns_addr = "127.0.0.1:{26000 + i}"
http_addr = "127.0.0.1:{26100 + i}"
raft_addr = "127.0.0.1:{26200 + i}"
[auth]
admin_token_file = "{work}/admin.token"
[cluster]
secret_file = "{work}/cluster.secret"
bootstrap = {"true" if bootstrap else "false"}
heartbeat_ms = 100
election_timeout_min_ms = 500
election_timeout_max_ms = 1000
rpc_timeout_ms = 5000
write_timeout_ms = 120000
[[zone]]
name = "dyn.example.test"
ns = ["ns1.dyn.example.test"]
records = ["ns1 3600 IN A 127.0.0.1"]
""")
    return path


def start(binary, work, i, bootstrap):
    log = open(os.path.join(work, f"node{i}.log"), "w")
    p = subprocess.Popen([binary, "serve", "--config", config(work, i, bootstrap)], stderr=log, stdout=log,
                         env=dict(os.environ, RUST_LOG="warn"))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{26100 + i}/livez", timeout=1)
            return p
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"node {i} did not start")


def answers(port, name):
    r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1", name, "A"],
                       capture_output=True, text=True)
    return bool(r.stdout.strip())


def members(port):
    return {m["id"]: m for m in json.loads(api(port, "/api/v1/cluster")[1])["members"]}


def stop(procs):
    """SIGTERM to every node, then wait (SIGKILL after 10 s)."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def rss_mib(pid):
    return dc.status_kib(pid, "VmRSS") / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/quorumdns"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="qdns-catchup-")
    procs = []
    try:
        binary = os.path.join(work, "quorumdns")
        shutil.copy(a.bin, binary)
        for name, value in (("admin.token", TOKEN), ("cluster.secret", SECRET)):
            with open(os.path.join(work, name), "w") as f:
                f.write(value)
            os.chmod(os.path.join(work, name), 0o600)
        subprocess.run([sys.executable, os.path.join(HERE, "gen-zone.py"), ZONE, str(a.records), work], check=True)
        last = f"h{a.records - 1}.{ZONE}"
        procs.append(start(binary, work, 1, True))
        for _ in range(100):
            try:
                if urllib.request.urlopen("http://127.0.0.1:26101/readyz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        t0 = time.time()
        try:
            api(26101, f"/api/v1/zones/{ZONE}/import", "PUT", open(os.path.join(work, f"{ZONE}.zone"), "rb").read())
        except SystemExit as e:
            # A big import can outlast the write timeout on a busy machine; it still applies.
            print(f"# import answered {e}; waiting for it to apply", file=sys.stderr)
        while not answers(26001, last):
            time.sleep(0.1)
        print(f"# import of {a.records} + {a.records // 10} records: {time.time() - t0:.1f} s", file=sys.stderr)
        time.sleep(1)
        print(f"# leader RSS after the import: {rss_mib(procs[0].pid):.0f} MiB", file=sys.stderr)
        # Entries past LOGS_KEPT_AFTER_SNAPSHOT (16), so the purge reaches the import.
        for k in range(40):
            api(26101, f"/api/v1/zones/{ZONE}/records/pad{k}/A", "PUT", {"ttl": 60, "data": ["192.0.2.1"]})
        print(f"# leader RSS after 40 more writes: {rss_mib(procs[0].pid):.0f} MiB", file=sys.stderr)
        t0 = time.time()
        _, backup = api(26101, "/api/v1/backup")
        snap_secs = time.time() - t0
        metrics = urllib.request.urlopen("http://127.0.0.1:26101/metrics").read().decode()
        snap_bytes = next((float(l.split()[1]) for l in metrics.splitlines() if l.startswith("quorumdns_raft_snapshot_bytes ")), 0)
        print(f"# snapshot (backup call: build + persist + read back): {snap_secs:.1f} s, "
              f"{snap_bytes / 2**20:.1f} MiB (backup file {len(backup) / 2**20:.1f} MiB)", file=sys.stderr)
        leader_last = members(26101)[1]["last_log_index"]
        print(f"# leader RSS after the snapshot: {rss_mib(procs[0].pid):.0f} MiB", file=sys.stderr)

        procs.append(start(binary, work, 2, False))
        t0 = time.time()
        api(26101, "/api/v1/cluster/nodes", "POST", {"id": 2, "raft_addr": "127.0.0.1:26202",
                                                     "http_addr": "127.0.0.1:26102", "dns_addr": "127.0.0.1:26002",
                                                     "wait_secs": 0})
        t_applied = t_answer = None
        while time.time() - t0 < 600 and (t_applied is None or t_answer is None):
            if t_applied is None:
                m = members(26101).get(2, {})
                if (m.get("applied_index") or 0) >= leader_last:
                    t_applied = time.time() - t0
            if t_answer is None and answers(26002, last):
                t_answer = time.time() - t0
            time.sleep(0.05)
        print(f"\n{a.records} A + {a.records // 10} AAAA; snapshot {snap_bytes / 2**20:.1f} MiB built in "
              f"{snap_secs:.1f} s (backup call)")
        print(f"new member: applied index = leader's after {t_applied if t_applied is None else round(t_applied, 1)} s, "
              f"answers the last name after {t_answer if t_answer is None else round(t_answer, 1)} s; "
              f"RSS leader {rss_mib(procs[0].pid):.0f} MiB, learner {rss_mib(procs[1].pid):.0f} MiB")
        # Restart to ready: the leader stops (SIGTERM) and starts again from its own disk
        # (snapshot + the log after it); timed until it answers the last name again.
        stop(procs[:1])
        t0 = time.time()
        procs[0] = start(binary, work, 1, True)
        while time.time() - t0 < 600 and not answers(26001, last):
            time.sleep(0.05)
        print(f"restart: node 1 answers the last name {time.time() - t0:.1f} s after it was started again; "
              f"RSS {rss_mib(procs[0].pid):.0f} MiB")
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
