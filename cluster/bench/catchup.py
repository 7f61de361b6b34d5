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
import sys
import time
import urllib.request

import benchlib as bl

# Node 1 (the leader) and node 2 (the new member): admin API and DNS ports.
LEADER, LEADER_DNS = bl.http_port(1), bl.dns_port(1)
LEARNER_DNS = bl.dns_port(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--bin", default=bl.DEFAULT_BIN)
    a = ap.parse_args()
    procs = []
    with bl.workdir("qdns-catchup-", procs) as work:
        binary = bl.private_copy(a.bin, work, "quorumdns")
        bl.write_secrets(work)
        zonefile, _ = bl.gen_zone(bl.ZONE, a.records, work)
        last = f"h{a.records - 1}.{bl.ZONE}"
        procs.append(bl.start_node(binary, work, 1, True))
        bl.wait_http(LEADER, "/readyz", tries=100)
        t0 = time.time()
        try:
            with open(zonefile, "rb") as f:
                bl.api(LEADER, f"/api/v1/zones/{bl.ZONE}/import", "PUT", f.read())
        except SystemExit as e:
            # A big import can outlast the write timeout on a busy machine; it still applies.
            print(f"# import answered {e}; waiting for it to apply", file=sys.stderr)
        while not bl.answers(LEADER_DNS, last):
            time.sleep(0.1)
        print(f"# import of {a.records} + {a.records // 10} records: {time.time() - t0:.1f} s", file=sys.stderr)
        time.sleep(1)
        print(f"# leader RSS after the import: {bl.rss_mib(procs[0].pid):.0f} MiB", file=sys.stderr)
        # Entries past LOGS_KEPT_AFTER_SNAPSHOT (16), so the purge reaches the import.
        for k in range(40):
            bl.api(LEADER, f"/api/v1/zones/{bl.ZONE}/records/pad{k}/A", "PUT", {"ttl": 60, "data": ["192.0.2.1"]})
        print(f"# leader RSS after 40 more writes: {bl.rss_mib(procs[0].pid):.0f} MiB", file=sys.stderr)
        t0 = time.time()
        _, backup = bl.api(LEADER, "/api/v1/backup")
        snap_secs = time.time() - t0
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{LEADER}/metrics").read().decode()
        snap_bytes = next((float(l.split()[1]) for l in metrics.splitlines() if l.startswith("quorumdns_raft_snapshot_bytes ")), 0)
        print(f"# snapshot (backup call: build + persist + read back): {snap_secs:.1f} s, "
              f"{snap_bytes / 2**20:.1f} MiB (backup file {len(backup) / 2**20:.1f} MiB)", file=sys.stderr)
        leader_last = bl.members(LEADER)[1]["last_log_index"]
        print(f"# leader RSS after the snapshot: {bl.rss_mib(procs[0].pid):.0f} MiB", file=sys.stderr)

        procs.append(bl.start_node(binary, work, 2, False))
        t0 = time.time()
        bl.add_node(2, wait_secs=0)
        t_applied = t_answer = None
        while time.time() - t0 < 600 and (t_applied is None or t_answer is None):
            if t_applied is None:
                m = bl.members(LEADER).get(2, {})
                if (m.get("applied_index") or 0) >= leader_last:
                    t_applied = time.time() - t0
            if t_answer is None and bl.answers(LEARNER_DNS, last):
                t_answer = time.time() - t0
            time.sleep(0.05)
        print(f"\n{a.records} A + {a.records // 10} AAAA; snapshot {snap_bytes / 2**20:.1f} MiB built in "
              f"{snap_secs:.1f} s (backup call)")
        print(f"new member: applied index = leader's after {t_applied if t_applied is None else round(t_applied, 1)} s, "
              f"answers the last name after {t_answer if t_answer is None else round(t_answer, 1)} s; "
              f"RSS leader {bl.rss_mib(procs[0].pid):.0f} MiB, learner {bl.rss_mib(procs[1].pid):.0f} MiB")
        # Restart to ready: the leader stops (SIGTERM) and starts again from its own disk
        # (snapshot + the log after it); timed until it answers the last name again.
        bl.stop(procs[:1])
        t0 = time.time()
        procs[0] = bl.start_node(binary, work, 1, True)
        while time.time() - t0 < 600 and not bl.answers(LEADER_DNS, last):
            time.sleep(0.05)
        print(f"restart: node 1 answers the last name {time.time() - t0:.1f} s after it was started again; "
              f"RSS {bl.rss_mib(procs[0].pid):.0f} MiB")


if __name__ == "__main__":
    main()
