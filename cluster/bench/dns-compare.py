#!/usr/bin/env python3
"""DNS query benchmark: quorumdns side by side with NSD, Knot and BIND in the same run.

Every server is loaded with the same zone (gen-zone.py: N A + N/10 AAAA) and pinned to
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
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ZONE = "bench.test"
TOKEN = "bench-token-0123456789"
# The servers run on this core, dnsperf on core 0.
SERVER_CPU = 1
HZ = os.sysconf("SC_CLK_TCK")


def tree(pid):
    """pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def proc_kib(pid, file, field):
    """A `Field: N kB` line of /proc/PID/FILE (status, smaps_rollup), 0 if the process or
    the line is gone."""
    try:
        with open(f"/proc/{pid}/{file}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pin_threads(pid, cpu=SERVER_CPU):
    """Pins every thread of the server's process tree to `cpu`; returns how many had moved.
    `taskset` at start is not enough: Knot pins its UDP worker threads itself (worker i to
    CPU i), which put Knot's worker on dnsperf's core and spared it the cross-core wake-ups
    every other server pays (and cost it dnsperf's CPU at saturation)."""
    moved = 0
    for p in tree(pid):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{p}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                if os.sched_getaffinity(tid) != {cpu}:
                    os.sched_setaffinity(tid, {cpu})
                    moved += 1
            except OSError:
                pass
    return moved


def status_kib(pid, field):
    return proc_kib(pid, "status", field)


def pss_kib(pid):
    return sum(proc_kib(p, "smaps_rollup", "Pss") for p in tree(pid))


def max_rss_kib(pid):
    """VmRSS of the largest process of the tree (NSD forks: its children share the zone)."""
    return max((status_kib(p, "VmRSS") for p in tree(pid)), default=0)


def wait_answer(port, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1", f"h1.{ZONE}", "A"],
                           capture_output=True, text=True)
        if r.stdout.strip():
            return True
        time.sleep(0.2)
    return False


class Server:
    def __init__(self, name, port, work):
        self.name, self.port, self.work = name, port, work
        self.proc = None
        self.load_secs = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_quorumdns(s, binary, zonefile, extra_env=None, args=()):
    data = os.path.join(s.work, "qdns")
    os.makedirs(data)
    hp, rp = s.port + 1, s.port + 2
    env = dict(os.environ, QUORUMDNS_ADMIN_TOKEN=TOKEN, RUST_LOG="warn", **(extra_env or {}))
    s.proc = subprocess.Popen(["taskset", "-c", "1", binary, "serve", "--dev", "--data-dir", data,
                               "--dns-addr", f"127.0.0.1:{s.port}", "--http-addr", f"127.0.0.1:{hp}",
                               "--raft-addr", f"127.0.0.1:{rp}", *args], env=env,
                              stderr=open(os.path.join(s.work, "qdns.log"), "w"))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{hp}/readyz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    t0 = time.time()
    req = urllib.request.Request(f"http://127.0.0.1:{hp}/api/v1/zones/{ZONE}/import", method="PUT",
                                 data=open(zonefile, "rb").read(), headers={"Authorization": f"Bearer {TOKEN}"})
    urllib.request.urlopen(req, timeout=600).read()
    wait_answer(s.port)
    s.load_secs = time.time() - t0


def start_nsd(s, zonefile):
    conf = os.path.join(s.work, "nsd.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
  ip-address: 127.0.0.1@{s.port}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{s.work}"
  database: ""
  zonelistfile: "{s.work}/zone.list"
  xfrdfile: "{s.work}/xfrd.state"
  xfrdir: "{s.work}"
  pidfile: "{s.work}/nsd.pid"
  logfile: "{s.work}/nsd.log"
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: {ZONE}
  zonefile: "{zonefile}"
""")
    t0 = time.time()
    s.proc = subprocess.Popen(["taskset", "-c", "1", "nsd", "-d", "-c", conf], stderr=subprocess.DEVNULL)
    wait_answer(s.port)
    s.load_secs = time.time() - t0


def start_knot(s, zonefile):
    conf = os.path.join(s.work, "knot.conf")
    os.makedirs(os.path.join(s.work, "knotdb"))
    with open(conf, "w") as f:
        f.write(f"""server:
  rundir: "{s.work}"
  listen: 127.0.0.1@{s.port}
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "{s.work}/knotdb"
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: "{s.work}"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: {ZONE}
    file: "{zonefile}"
""")
    t0 = time.time()
    s.proc = subprocess.Popen(["taskset", "-c", "1", "knotd", "-c", conf], stderr=subprocess.DEVNULL)
    wait_answer(s.port)
    s.load_secs = time.time() - t0


def start_bind(s, zonefile):
    conf = os.path.join(s.work, "named.conf")
    with open(conf, "w") as f:
        f.write(f"""options {{
  directory "{s.work}";
  pid-file "{s.work}/named.pid";
  listen-on port {s.port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  notify no;
}};
controls {{ }};
zone "{ZONE}" {{ type primary; file "{zonefile}"; }};
""")
    t0 = time.time()
    s.proc = subprocess.Popen(["taskset", "-c", "1", "named", "-g", "-n", "1", "-c", conf],
                              stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wait_answer(s.port)
    s.load_secs = time.time() - t0


def dnsperf(s, queries, secs, mode="udp", qps=None, verbose=False):
    args = ["taskset", "-c", "0", "dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", queries,
            "-l", str(secs), "-c", "4", "-q", "200", "-m", mode]
    if qps:
        args += ["-Q", str(qps)]
    if verbose:
        args += ["-v"]
    # Before every run, not once at start: Knot pins its worker when the worker starts,
    # which can be after the server first answers.
    moved = pin_threads(s.proc.pid)
    if moved:
        print(f"# {s.name}: {moved} thread(s) had left core {SERVER_CPU}; pinned back", file=sys.stderr)
    c0 = cpu_ticks(s.proc.pid)
    out = subprocess.run(args, capture_output=True, text=True).stdout
    c1 = cpu_ticks(s.proc.pid)
    done, q, lat = 0, 0.0, []
    for line in out.splitlines():
        if "Queries completed:" in line:
            done = int(line.split()[2])
        elif "Queries per second:" in line:
            q = float(line.split()[3])
        elif verbose and line.startswith("> "):
            try:
                lat.append(float(line.split()[-1]))
            except ValueError:
                pass
    cpu_us = (c1 - c0) / HZ * 1e6 / done if done else float("nan")
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] * 1e6 if lat else float("nan")
    return {"qps": q, "cpu_us": cpu_us, "p50": pct(0.5), "p99": pct(0.99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--load", type=int, default=40_000)
    ap.add_argument("--servers", default="quorumdns,nsd,knot,bind")
    ap.add_argument("--tcp", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/quorumdns"))
    ap.add_argument("--base-bin", help="an older quorumdns binary, run as server 'base' (before/after)")
    ap.add_argument("--extra-bin", action="append", default=[], metavar="NAME=PATH",
                    help="one more quorumdns binary, run as server NAME (repeatable; list NAME in --servers)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dns-compare-")
    servers = []
    try:
        binary = os.path.join(work, "quorumdns.bin")
        shutil.copy(a.bin, binary)  # a private copy: a shared target dir may be rebuilt meanwhile
        base = os.path.join(work, "base.bin")
        if a.base_bin:
            shutil.copy(a.base_bin, base)
        subprocess.run([sys.executable, os.path.join(HERE, "gen-zone.py"), ZONE, str(a.records), work], check=True)
        zonefile, queries = os.path.join(work, f"{ZONE}.zone"), os.path.join(work, "queries.txt")
        starters = {"quorumdns": lambda s: start_quorumdns(s, binary, zonefile),
                    "base": lambda s: start_quorumdns(s, base, zonefile),
                    # the same binary with the tokio task UDP loop instead of recvmmsg threads
                    "qdns-tokio": lambda s: start_quorumdns(s, binary, zonefile, {"QUORUMDNS_UDP_LOOP": "tokio"}),
                    # the same binary reading at once under load (dns.udp_coalesce_us = 0)
                    "qdns-nocoalesce": lambda s: start_quorumdns(s, binary, zonefile, args=["--udp-coalesce-us", "0"]), "nsd": lambda s: start_nsd(s, zonefile),
                    "knot": lambda s: start_knot(s, zonefile), "bind": lambda s: start_bind(s, zonefile)}
        for extra in a.extra_bin:
            name, path = extra.split("=", 1)
            copy = os.path.join(work, f"{name}.bin")
            shutil.copy(path, copy)
            starters[name] = lambda s, copy=copy: start_quorumdns(s, copy, zonefile)
        for i, name in enumerate(a.servers.split(",")):
            d = os.path.join(work, name)
            os.makedirs(d)
            s = Server(name, 25400 + 10 * i, d)
            servers.append(s)
            starters[name](s)
            # quorumdns returns an import's freed memory to the kernel 2 s after the zone is built.
            time.sleep(3)
            s.pss, s.rss = pss_kib(s.proc.pid), max_rss_kib(s.proc.pid)
            # RssAnon: heap and stacks, without the mapped binary and libraries.
            anon = max((status_kib(p, "RssAnon") for p in tree(s.proc.pid)), default=0)
            print(f"# {name}: loaded in {s.load_secs:.1f} s, PSS {s.pss / 1024:.0f} MiB, RSS {s.rss / 1024:.0f} MiB, "
                  f"RssAnon {anon / 1024:.0f} MiB", file=sys.stderr)
        results = {s.name: [] for s in servers}
        for r in range(a.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order:
                row = {"udp": dnsperf(s, queries, a.seconds)["qps"]}
                fixed = dnsperf(s, queries, a.seconds, qps=a.load, verbose=True)
                row.update(cpu_us=fixed["cpu_us"], p50=fixed["p50"], p99=fixed["p99"])
                row["tcp"] = dnsperf(s, queries, a.seconds, mode="tcp")["qps"] if a.tcp else float("nan")
                results[s.name].append(row)
                print(f"# round {r + 1} {s.name}: {row}", file=sys.stderr)
        med = {n: {k: statistics.median(x[k] for x in rows) for k in rows[0]} for n, rows in results.items()}
        ref = med[servers[0].name]
        print(f"\n{a.records} A + {a.records // 10} AAAA, 90% A / 5% AAAA / 5% NXDOMAIN; median of {a.rounds} "
              f"interleaved rounds of {a.seconds} s; cpu/q and latency at -Q {a.load}")
        print(f"{'server':<10} {'udp q/s':>9} {'cpu/q us':>9} {'p50 us':>7} {'p99 us':>7} {'tcp q/s':>9} "
              f"{'PSS MiB':>8} {'RSS MiB':>8} {'load s':>7} | {'udp':>5} {'cpu':>5} {'tcp':>5} {'rss':>5}  (quorumdns/peer)")
        for s in servers:
            m = med[s.name]
            print(f"{s.name:<10} {m['udp']:>9.0f} {m['cpu_us']:>9.2f} {m['p50']:>7.0f} {m['p99']:>7.0f} {m['tcp']:>9.0f} "
                  f"{s.pss / 1024:>8.0f} {s.rss / 1024:>8.0f} {s.load_secs:>7.1f} | {ref['udp'] / m['udp']:>5.2f} {ref['cpu_us'] / m['cpu_us']:>5.2f} "
                  f"{ref['tcp'] / m['tcp'] if m['tcp'] else float('nan'):>5.2f} {servers[0].rss / s.rss:>5.2f}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
