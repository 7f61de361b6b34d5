"""What the benchmark scripts of cluster/bench share, so that each script keeps only its own
method and output: the benchmark zone, the servers under test (quorumdns, NSD, Knot, BIND)
started on loopback and pinned to one core, dnsperf runs, process readings from /proc, a
loopback quorumdns cluster (node TOML, admin API), and fixed-width tables.

The scripts import it as `benchlib`: Python puts a script's own folder first on sys.path,
so `cluster/bench/dns-compare.py` finds `cluster/bench/benchlib.py` from any working folder.
"""
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ZONE = "bench.test"
TOKEN = "bench-admin-token-0123456789"
SECRET = "bench-cluster-secret-0123456789abcdef"
# The servers run on this core, dnsperf on core 0.
SERVER_CPU = 1
DNSPERF_CPU = 0
HZ = os.sysconf("SC_CLK_TCK")


def target_path(rel):
    """A build output under $CARGO_TARGET_DIR (default ./target), e.g. "release/quorumdns"."""
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), rel)


DEFAULT_BIN = target_path("release/quorumdns")


@contextlib.contextmanager
def workdir(prefix, running=()):
    """A temporary folder for one run. At exit, the processes in `running` (Popen or Server
    objects, in a list the caller fills as it starts them) are stopped, then the folder is
    removed."""
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        yield work
    finally:
        stop([getattr(p, "proc", p) for p in running])
        shutil.rmtree(work, ignore_errors=True)


def private_copy(path, work, name):
    """Copies a binary into the work folder and returns the copy: a shared target dir may be
    rebuilt while a benchmark runs."""
    copy = os.path.join(work, name)
    shutil.copy(path, copy)
    return copy


# --- the benchmark zone ---------------------------------------------------------------------

def zone_header(zone, ttl=300):
    return (f"$ORIGIN {zone}.\n$TTL {ttl}\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\n"
            "ns1 IN A 192.0.2.53\n")


def gen_zone(zone, n, out):
    """Writes OUT/ZONE.zone (N A records + N/10 AAAA) and OUT/queries.txt, a dnsperf query
    file (90% existing A, 5% AAAA, 5% NXDOMAIN); returns both paths. Seeded: the same N
    gives the same files."""
    rng = random.Random(1)
    zonefile, queries = os.path.join(out, f"{zone}.zone"), os.path.join(out, "queries.txt")
    with open(zonefile, "w") as f:
        f.write(zone_header(zone))
        for i in range(n):
            f.write(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
        for i in range(n // 10):
            f.write(f"h{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")
    with open(queries, "w") as f:
        for _ in range(200_000):
            r = rng.random()
            if r < 0.90:
                f.write(f"h{rng.randrange(n)}.{zone} A\n")
            elif r < 0.95:
                f.write(f"h{rng.randrange(n // 10)}.{zone} AAAA\n")
            else:
                f.write(f"nx{rng.randrange(n)}.{zone} A\n")
    return zonefile, queries


# --- /proc readings -------------------------------------------------------------------------

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
    """utime + stime of the whole process tree, in clock ticks (HZ a second)."""
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


def status_kib(pid, field):
    """VmRSS, VmHWM, RssAnon, ... of one process, in KiB."""
    return proc_kib(pid, "status", field)


def rss_mib(pid):
    return status_kib(pid, "VmRSS") / 1024


def pss_kib(pid):
    return sum(proc_kib(p, "smaps_rollup", "Pss") for p in tree(pid))


def max_status_kib(pid, field):
    """`field` of the largest process of the tree (NSD forks: its children share the zone)."""
    return max((status_kib(p, field) for p in tree(pid)), default=0)


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


# --- processes, DNS and HTTP probes ---------------------------------------------------------

def stop(procs):
    """SIGTERM to every process, then wait (SIGKILL after 10 s)."""
    live = [p for p in procs if p is not None and p.poll() is None]
    for p in live:
        p.send_signal(signal.SIGTERM)
    for p in live:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def answers(port, name, tcp=False):
    """Whether the server on 127.0.0.1:port answers `name` A with data (dig +short)."""
    r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", *(["+tcp"] if tcp else []), "-p", str(port),
                        "@127.0.0.1", name, "A"], capture_output=True, text=True)
    return bool(r.stdout.strip())


def wait_answer(port, name=f"h1.{ZONE}", timeout=120, tcp=False):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if answers(port, name, tcp):
            return True
        time.sleep(0.2)
    return False


def wait_http(port, path, tries=300):
    """Polls http://127.0.0.1:port/path every 0.1 s until it answers 200; False after `tries`."""
    for _ in range(tries):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def api(port, path, method="GET", body=None, timeout=600):
    """The admin API of the node on 127.0.0.1:port, with TOKEN; a dict body is sent as JSON.
    Returns (status, body bytes); an HTTP error ends the script with its status and body."""
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


def taskset(cpu):
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


# --- servers under test ---------------------------------------------------------------------

class Server:
    """One DNS server on 127.0.0.1:port with its own work folder; `start_*` fill in `proc`
    and `load_secs` (start to the first answer, or the API import to the first answer)."""

    def __init__(self, name, port, work):
        self.name, self.port, self.work = name, port, work
        self.proc = None
        self.load_secs = None

    def stop(self):
        stop([self.proc])


def start_quorumdns(s, binary, zonefile, extra_env=None, args=()):
    """A --dev node (DNS on s.port, HTTP on +1, Raft on +2) with the zone imported through the
    API; load_secs is the import until the first answer."""
    data = os.path.join(s.work, "qdns")
    os.makedirs(data)
    hp, rp = s.port + 1, s.port + 2
    env = dict(os.environ, QUORUMDNS_ADMIN_TOKEN=TOKEN, RUST_LOG="warn", **(extra_env or {}))
    s.proc = subprocess.Popen([*taskset(SERVER_CPU), binary, "serve", "--dev", "--data-dir", data,
                               "--dns-addr", f"127.0.0.1:{s.port}", "--http-addr", f"127.0.0.1:{hp}",
                               "--raft-addr", f"127.0.0.1:{rp}", *args], env=env,
                              stderr=open(os.path.join(s.work, "qdns.log"), "w"))
    wait_http(hp, "/readyz")
    t0 = time.time()
    with open(zonefile, "rb") as f:
        api(hp, f"/api/v1/zones/{ZONE}/import", "PUT", f.read())
    wait_answer(s.port)
    s.load_secs = time.time() - t0


def _start_peer(s, argv, **popen):
    t0 = time.time()
    s.proc = subprocess.Popen([*taskset(SERVER_CPU), *argv], stderr=subprocess.DEVNULL, **popen)
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
    _start_peer(s, ["nsd", "-d", "-c", conf])


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
    _start_peer(s, ["knotd", "-c", conf])


def named_conf(work, port, zone, zonefile, zone_options=""):
    """A primary-only BIND for one zone on 127.0.0.1:port, no recursion, no NOTIFY."""
    conf = os.path.join(work, "named.conf")
    with open(conf, "w") as f:
        f.write(f"""options {{
  directory "{work}";
  pid-file "{work}/named.pid";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  notify no;
}};
controls {{ }};
zone "{zone}" {{ type primary; file "{zonefile}"; {zone_options}}};
""")
    return conf


def start_bind(s, zonefile):
    conf = named_conf(s.work, s.port, ZONE, zonefile)
    _start_peer(s, ["named", "-g", "-n", "1", "-c", conf], stdout=subprocess.DEVNULL)


def starters(binary, zonefile):
    """Server name -> a function starting that server with the zone (see Server)."""
    return {"quorumdns": lambda s: start_quorumdns(s, binary, zonefile),
            "nsd": lambda s: start_nsd(s, zonefile),
            "knot": lambda s: start_knot(s, zonefile),
            "bind": lambda s: start_bind(s, zonefile)}


def start_servers(names, starters, work, servers, loaded=None):
    """Starts the named servers one after the other with `starters` (see starters()), each in
    its own folder under work on ports 25400 + 10 * its index; each is added to `servers`
    before it starts (so that workdir() stops it) and passed to `loaded` once it answers."""
    for i, name in enumerate(names):
        d = os.path.join(work, name)
        os.makedirs(d)
        s = Server(name, 25400 + 10 * i, d)
        servers.append(s)
        starters[name](s)
        if loaded:
            loaded(s)


def dnsperf(s, queries, secs, mode="udp", qps=None, verbose=False):
    """dnsperf on DNSPERF_CPU against server s: q/s, server CPU per answered query (us, from
    /proc around the run) and with verbose, p50/p99 latency (us)."""
    args = [*taskset(DNSPERF_CPU), "dnsperf", "-s", "127.0.0.1", "-p", str(s.port), "-d", queries,
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


# --- a loopback quorumdns cluster -----------------------------------------------------------
# Node i: DNS on 26000 + i, HTTP on 26100 + i, Raft on 26200 + i; node 1 bootstraps.

def dns_port(i):
    return 26000 + i


def http_port(i):
    return 26100 + i


def raft_port(i):
    return 26200 + i


def write_secrets(work):
    """admin.token and cluster.secret (mode 600) in work, as the node configs name them."""
    for name, value in (("admin.token", TOKEN), ("cluster.secret", SECRET)):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(value)
        os.chmod(path, 0o600)


_PUBLIC_URL = {}


def supports_public_url(binary):
    """Whether `binary` knows `dyndns.public_url` (releases before issue 20 refuse the key)."""
    if binary not in _PUBLIC_URL:
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write('[node]\nid = 1\ndata_dir = "/tmp/qdns-check"\ndns_addr = "127.0.0.1:1"\n'
                    'http_addr = "127.0.0.1:2"\nraft_addr = "127.0.0.1:3"\n'
                    '[dyndns]\npublic_url = "http://127.0.0.1:2"\n')
        r = subprocess.run([binary, "check-config", "--config", f.name], capture_output=True)
        os.unlink(f.name)
        _PUBLIC_URL[binary] = r.returncode == 0
    return _PUBLIC_URL[binary]


def node_config(work, i, bootstrap, extra="", dyndns="", public_url=True):
    """Writes work/nodeI.toml (data in work/nodeI) and returns its path; `dyndns` goes into
    its [dyndns] section (keys), `extra` is appended (more TOML sections); `public_url`:
    whether to set dyndns.public_url (older binaries refuse it)."""
    d = os.path.join(work, f"node{i}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(work, f"node{i}.toml")
    with open(path, "w") as f:
        f.write(f"""[node]
id = {i}
data_dir = "{d}"
dns_addr = "127.0.0.1:{dns_port(i)}"
http_addr = "127.0.0.1:{http_port(i)}"
raft_addr = "127.0.0.1:{raft_port(i)}"
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
[dyndns]
{f'public_url = "http://127.0.0.1:{http_port(i)}"' if public_url else ""}
{dyndns}
[[zone]]
name = "dyn.example.test"
ns = ["ns1.dyn.example.test"]
records = ["ns1 3600 IN A 127.0.0.1"]
""" + extra)
    return path


def start_node(binary, work, i, bootstrap, extra="", dyndns=""):
    """Starts node i from its config (log in work/nodeI.log); returns once /livez answers."""
    log = open(os.path.join(work, f"node{i}.log"), "w")
    config = node_config(work, i, bootstrap, extra, dyndns, supports_public_url(binary))
    p = subprocess.Popen([binary, "serve", "--config", config], stderr=log,
                         stdout=log, env=dict(os.environ, RUST_LOG="warn"))
    if not wait_http(http_port(i), "/livez"):
        raise SystemExit(f"node {i} did not start")
    return p


def add_node(i, wait_secs, leader=1):
    """POST /api/v1/cluster/nodes on the leader: node i joins as a learner."""
    api(http_port(leader), "/api/v1/cluster/nodes", "POST",
        {"id": i, "raft_addr": f"127.0.0.1:{raft_port(i)}", "http_addr": f"127.0.0.1:{http_port(i)}",
         "dns_addr": f"127.0.0.1:{dns_port(i)}", "wait_secs": wait_secs})


def members(port):
    """The cluster's members by id, as GET /api/v1/cluster lists them."""
    return {m["id"]: m for m in json.loads(api(port, "/api/v1/cluster")[1])["members"]}


# --- output ---------------------------------------------------------------------------------

class Table:
    """Fixed-width columns joined by one space. A column is (title, format spec): the title is
    printed with the spec's alignment and width, each value with the whole spec (">9.0f");
    a title with no spec is printed as is in both the header and the rows ("|")."""

    def __init__(self, *columns, header_suffix=""):
        self.columns = columns
        self.header_suffix = header_suffix

    def header(self):
        cells = [format(title, re.match(r"[<>^]?\d*", spec).group()) if spec else title for title, spec in self.columns]
        return " ".join(cells) + self.header_suffix

    def row(self, *values):
        values = iter(values)
        return " ".join(format(next(values), spec) if spec else title for title, spec in self.columns)
