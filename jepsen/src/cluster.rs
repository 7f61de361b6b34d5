//! The 5-node cluster under test: a private Docker network with a fresh subnet, one
//! container per node (fixed address, bind-mounted config and secrets, a named data
//! volume that survives `kill`/`start`), joined like deploy/compose/join.sh but over HTTP
//! from here. Everything carries the label `quorumdns-jepsen=<tag>` and is removed by
//! [`Cluster::teardown`] (also on drop, so an error or Ctrl-C cleans up too).
//!
//! Nodes are numbered by slot 1..=5 (the history's `NodeId`); a slot's Raft id changes
//! when the membership nemesis replaces the node with a new member.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::Command;

use crate::history::NodeId;

pub const NODES: u32 = 5;
/// Update history entries each node keeps per host (the server's maximum): enough that
/// `duplicate_request` sees every write of a run.
pub const HISTORY_PER_HOST: u32 = 10_000;
/// The host the membership nemeses write through a new member to see that it takes
/// writes; not part of the workload (never read, not in the checked history).
pub const PROBE_HOST: &str = "probe.jepsen.test";
pub const ZONE: &str = "jepsen.test";
pub const HTTP_PORT: u16 = 8053;
pub const RAFT_PORT: u16 = 7053;

pub struct Cluster {
    pub tag: String,
    pub image: String,
    pub network: String,
    /// First three octets of the /24.
    pub prefix: [u8; 3],
    pub dir: PathBuf,
    pub admin_token: String,
    pub http: reqwest::Client,
    /// Raft id of each slot (index slot-1).
    ids: Mutex<Vec<u64>>,
    next_id: Mutex<u64>,
    /// Host name → its update secret.
    pub hosts: Mutex<Vec<(String, String)>>,
    /// The secret of [`PROBE_HOST`].
    probe_secret: Mutex<String>,
    /// Addresses the probe writes (198.18.0.0/15, never a workload value).
    probe_values: std::sync::atomic::AtomicU32,
    /// `cluster.snapshot_every` of every node (`None`: the server's default).
    pub snapshot_every: Option<u64>,
    torn_down: Mutex<bool>,
}

/// How a new member's join ended (see [`Cluster::verify_join`]).
pub struct JoinReport {
    pub joined: bool,
    /// It declared itself removed.
    pub fenced: bool,
    pub detail: String,
}

/// The output of a docker (or nsenter) command, or its stderr as the error.
pub async fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().await.map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

pub async fn docker(args: &[&str]) -> Result<String, String> {
    sh("docker", args).await
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn random_secret() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..40).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[r.gen_range(0..36)])).collect()
}

impl Cluster {
    /// Creates the network (a free 172.29.X.0/24 .. ) and the results' config folder.
    pub async fn create(dir: &Path, image: &str, seed: u64, snapshot_every: Option<u64>) -> Result<Cluster, String> {
        let tag = format!("{}-{}", std::process::id(), seed);
        let network = format!("qdns-jepsen-{tag}");
        let cfg = dir.join("config");
        std::fs::create_dir_all(cfg.join("secrets")).map_err(|e| format!("mkdir: {e}"))?;
        let admin_token = random_secret();
        std::fs::write(cfg.join("secrets/admin_token"), &admin_token).map_err(|e| e.to_string())?;
        std::fs::write(cfg.join("secrets/cluster_secret"), random_secret()).map_err(|e| e.to_string())?;
        // The containers run as uid 65532: the bind-mounted files must be readable.
        for f in ["secrets", "secrets/admin_token", "secrets/cluster_secret"] {
            let mode = if f == "secrets" { 0o755 } else { 0o644 };
            set_mode(&cfg.join(f), mode)?;
        }
        let mut prefix = None;
        let start = (std::process::id() as u64 + seed) % 200;
        for i in 0..40u64 {
            let (b, c) = (29 + ((start + i) / 200) as u8, (20 + (start + i) % 200) as u8);
            let subnet = format!("172.{b}.{c}.0/24");
            let label = format!("quorumdns-jepsen={tag}");
            match docker(&["network", "create", "--driver", "bridge", "--subnet", &subnet, "--label", &label, &network])
                .await
            {
                Ok(_) => {
                    prefix = Some([172, b, c]);
                    break;
                }
                Err(e) if e.contains("overlap") => continue,
                Err(e) => return Err(e),
            }
        }
        let prefix = prefix.ok_or("no free subnet for the test network")?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(5))
            .user_agent("quorumdns-jepsen/0")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Cluster {
            tag,
            image: image.to_string(),
            network,
            prefix,
            dir: dir.to_path_buf(),
            admin_token,
            http,
            ids: Mutex::new((1..=NODES as u64).collect()),
            next_id: Mutex::new(NODES as u64 + 1),
            hosts: Mutex::new(Vec::new()),
            probe_secret: Mutex::new(String::new()),
            probe_values: std::sync::atomic::AtomicU32::new(1),
            snapshot_every,
            torn_down: Mutex::new(false),
        })
    }

    pub fn ip(&self, slot: NodeId) -> Ipv4Addr {
        Ipv4Addr::new(self.prefix[0], self.prefix[1], self.prefix[2], 10 + slot as u8)
    }

    pub fn http_base(&self, slot: NodeId) -> String {
        format!("http://{}:{HTTP_PORT}", self.ip(slot))
    }

    pub fn dns_addr(&self, slot: NodeId) -> SocketAddr {
        SocketAddr::new(self.ip(slot).into(), 53)
    }

    pub fn container(&self, slot: NodeId) -> String {
        format!("qdns-j{}-n{slot}", self.tag)
    }

    fn volume(&self, slot: NodeId, id: u64) -> String {
        format!("qdns-j{}-n{slot}-id{id}", self.tag)
    }

    pub fn raft_id(&self, slot: NodeId) -> u64 {
        self.ids.lock().unwrap()[slot as usize - 1]
    }

    pub fn slot_of(&self, raft_id: u64) -> Option<NodeId> {
        self.ids.lock().unwrap().iter().position(|i| *i == raft_id).map(|p| p as NodeId + 1)
    }

    fn config_path(&self, slot: NodeId, id: u64) -> PathBuf {
        self.dir.join("config").join(format!("node{slot}-id{id}.toml"))
    }

    fn write_config(&self, slot: NodeId, id: u64) -> Result<PathBuf, String> {
        let ip = self.ip(slot);
        let text = format!(
            r#"# Node in slot {slot} (Raft id {id}) of the jepsen cluster; written by quorumdns-jepsen.
[node]
id = {id}
data_dir = "/var/lib/quorumdns"
dns_addr = "0.0.0.0:53"
http_addr = "0.0.0.0:{HTTP_PORT}"
raft_addr = "{ip}:{RAFT_PORT}"

[auth]
admin_token_file = "/run/secrets/admin_token"

[cluster]
secret_file = "/run/secrets/cluster_secret"
bootstrap = {bootstrap}
heartbeat_ms = 200
election_timeout_min_ms = 1000
election_timeout_max_ms = 2000
write_timeout_ms = 5000
stale_after_ms = 3000
{snapshot_every}
[dyndns]
# Every write changes the address: the default 10 s per host would refuse most of them.
min_update_interval_secs = 0
# Every applied update stays in the host's history: duplicate_request reads it at the end.
history_per_host = {HISTORY_PER_HOST}

[log]
format = "json"

[[zone]]
name = "{ZONE}"
ns = ["ns1.{ZONE}"]
records = ["ns1 3600 IN A {ip1}"]
"#,
            bootstrap = id == 1,
            ip1 = self.ip(1),
            snapshot_every = self
                .snapshot_every
                .map(|n| format!("# Small, so that a joining member installs a snapshot.\nsnapshot_every = {n}\n"))
                .unwrap_or_default(),
        );
        let path = self.config_path(slot, id);
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        set_mode(&path, 0o644)?;
        Ok(path)
    }

    /// Creates the slot's volume and starts its container with Raft id `id`.
    async fn start_node(&self, slot: NodeId, id: u64) -> Result<(), String> {
        let cfg = self.write_config(slot, id)?;
        let label = format!("quorumdns-jepsen={}", self.tag);
        let volume = self.volume(slot, id);
        docker(&["volume", "create", "--label", &label, &volume]).await?;
        let secrets = self.dir.join("config/secrets");
        let ip = self.ip(slot).to_string();
        docker(&[
            "run",
            "-d",
            "--name",
            &self.container(slot),
            "--label",
            &label,
            "--network",
            &self.network,
            "--ip",
            &ip,
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=0",
            "--cap-drop",
            "ALL",
            "--read-only",
            "-e",
            "RUST_LOG=info",
            "-v",
            &format!("{}:/etc/quorumdns/quorumdns.toml:ro", cfg.display()),
            "-v",
            &format!("{}:/run/secrets:ro", secrets.display()),
            "-v",
            &format!("{volume}:/var/lib/quorumdns"),
            &self.image,
        ])
        .await?;
        Ok(())
    }

    /// An admin API call to a slot: (status, JSON body or the text as a JSON string).
    pub async fn api(
        &self,
        slot: NodeId,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut req =
            self.http.request(method, format!("{}{path}", self.http_base(slot))).bearer_auth(&self.admin_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| format!("{path} at node {slot}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("{path} at node {slot}: {e}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// The leader's slot, as the first node that knows one says.
    pub async fn leader(&self) -> Option<NodeId> {
        for slot in 1..=NODES {
            if let Ok((200, v)) = self.api(slot, reqwest::Method::GET, "/api/v1/cluster", None).await {
                if let Some(id) = v["leader"].as_u64() {
                    return self.slot_of(id);
                }
            }
        }
        None
    }

    /// Adds the slot's current Raft id through any node that takes it, then promotes it.
    async fn join(&self, slot: NodeId, deadline: Instant) -> Result<(), String> {
        let id = self.raft_id(slot);
        let ip = self.ip(slot);
        let body = json!({
            "id": id,
            "raft_addr": format!("{ip}:{RAFT_PORT}"),
            "http_addr": format!("{ip}:{HTTP_PORT}"),
            "dns_addr": format!("{ip}:53"),
            "wait_secs": 20,
        });
        let mut last = String::new();
        for step in ["add", "promote"] {
            loop {
                if Instant::now() > deadline {
                    return Err(format!("{step} node {slot} (id {id}): {last}"));
                }
                let mut done = false;
                for via in (1..=NODES).filter(|s| *s != slot) {
                    let r = if step == "add" {
                        self.api(via, reqwest::Method::POST, "/api/v1/cluster/nodes", Some(body.clone())).await
                    } else {
                        self.api(via, reqwest::Method::POST, &format!("/api/v1/cluster/nodes/{id}/promote"), None).await
                    };
                    match r {
                        // 202: added but not caught up yet; promotion waits for that itself.
                        Ok((200..=202, _)) => done = true,
                        Ok((409, v)) if v["error"] == "duplicate_id" || v["error"] == "already_voter" => done = true,
                        Ok((s, v)) => last = format!("{s} {v}"),
                        Err(e) => last = e,
                    }
                    if done {
                        break;
                    }
                }
                if done {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(())
    }

    /// Starts five nodes, joins 2..=5 to node 1, creates the hosts.
    pub async fn bootstrap(&self, hosts: usize) -> Result<(), String> {
        for slot in 1..=NODES {
            self.start_node(slot, slot as u64).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok((200, v)) = self.api(1, reqwest::Method::GET, "/api/v1/cluster", None).await {
                if v["leader"].as_u64() == Some(1) {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err("node 1 did not become leader".into());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        for slot in 2..=NODES {
            self.join(slot, deadline).await?;
        }
        let mut made = Vec::new();
        for i in 1..=hosts {
            let fqdn = format!("h{i}.{ZONE}");
            loop {
                match self.api(1, reqwest::Method::POST, "/api/v1/hosts", Some(json!({ "fqdn": fqdn }))).await {
                    Ok((201, v)) => {
                        let secret = v["update_secret"].as_str().ok_or(format!("no update_secret in {v}"))?;
                        made.push((fqdn.clone(), secret.to_string()));
                        break;
                    }
                    Ok((s, v)) if s >= 500 => eprintln!("create {fqdn}: {s} {v} (retrying)"),
                    Ok((s, v)) => return Err(format!("create {fqdn}: {s} {v}")),
                    Err(e) => eprintln!("create {fqdn}: {e} (retrying)"),
                }
                if Instant::now() > deadline {
                    return Err(format!("create {fqdn}: timed out"));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        *self.hosts.lock().unwrap() = made;
        loop {
            match self.api(1, reqwest::Method::POST, "/api/v1/hosts", Some(json!({ "fqdn": PROBE_HOST }))).await {
                Ok((201, v)) => {
                    let secret = v["update_secret"].as_str().ok_or(format!("no update_secret in {v}"))?;
                    *self.probe_secret.lock().unwrap() = secret.to_string();
                    break;
                }
                Ok((s, v)) if s < 500 => return Err(format!("create {PROBE_HOST}: {s} {v}")),
                other => eprintln!("create {PROBE_HOST}: {other:?} (retrying)"),
            }
            if Instant::now() > deadline {
                return Err(format!("create {PROBE_HOST}: timed out"));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(())
    }

    /// The leader's slot, confirmed by the leader itself (its own status says `leader`):
    /// a follower that has not yet noticed a dead leader may still name it.
    pub async fn confirmed_leader(&self) -> Option<NodeId> {
        let slot = self.leader().await?;
        match self.api(slot, reqwest::Method::GET, "/api/v1/cluster", None).await {
            Ok((200, v)) if v["this_node"]["role"] == "leader" => Some(slot),
            _ => None,
        }
    }

    /// One dyndns2 update of [`PROBE_HOST`] through `slot` to a fresh address: the answer
    /// line (`good ...`, `911`, ...) with the HTTP status.
    pub async fn probe_write(&self, slot: NodeId) -> Result<(u16, String), String> {
        let n = self.probe_values.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value = Ipv4Addr::from(0xC612_0000u32 + n).to_string();
        let secret = self.probe_secret.lock().unwrap().clone();
        let resp = self
            .http
            .get(format!("{}/nic/update", self.http_base(slot)))
            .query(&[("hostname", PROBE_HOST), ("myip", value.as_str())])
            .basic_auth(PROBE_HOST, Some(secret))
            .header(reqwest::header::USER_AGENT, format!("{}probe-{n}", crate::history::AGENT_PREFIX))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, body.lines().next().unwrap_or("").trim().to_string()))
    }

    /// After [`Cluster::rejoin`] (or whatever it got to): polls until the slot's member is
    /// a voter in another node's view, its `/readyz` answers 200 and then a write through
    /// it answers `good`, or `deadline` passes, or it is a voter that declared itself
    /// removed (a failed join at once). The detail says what was seen, whether it
    /// declared itself removed, and how many snapshots it installed.
    pub async fn verify_join(&self, slot: NodeId, deadline: Instant) -> JoinReport {
        let id = self.raft_id(slot);
        let (mut voter, mut ready, mut wrote, mut fenced) = (false, false, false, false);
        let mut last = String::new();
        loop {
            if !voter {
                for via in (1..=NODES).filter(|s| *s != slot) {
                    if let Ok((200, v)) = self.api(via, reqwest::Method::GET, "/api/v1/cluster", None).await {
                        voter = v["members"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|m| m["id"].as_u64() == Some(id) && m["voter"] == true);
                        if !voter {
                            last = format!("not a voter in node {via}'s view");
                        }
                        break;
                    }
                }
            }
            if !ready {
                match self.http.get(format!("{}/readyz", self.http_base(slot))).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        ready = status == 200;
                        if !ready {
                            let failing: Vec<String> = body["checks"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter(|c| c["ok"] == false)
                                .map(|c| {
                                    format!(
                                        "{}: {}",
                                        c["name"].as_str().unwrap_or("?"),
                                        c["detail"].as_str().unwrap_or("")
                                    )
                                })
                                .collect();
                            fenced |= failing.iter().any(|f| f.contains("removed"));
                            last = format!("readyz {status}: {}", failing.join("; "));
                        }
                    }
                    Err(e) => last = format!("readyz: {e}"),
                }
            }
            // Only through a ready node: a write refused before would be answered
            // (badauth today) and throttle this address for every client.
            if ready && !wrote {
                match self.probe_write(slot).await {
                    Ok((200, line)) if line.starts_with("good") => wrote = true,
                    Ok((status, line)) => last = format!("write through it: {status} {line}"),
                    Err(e) => last = format!("write through it: {e}"),
                }
            }
            // A voter that says it was removed will not come back by itself (it stays
            // fenced until restarted): no need to wait for the bound.
            if (voter && ready && wrote) || (voter && fenced) {
                break;
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let installed = self.installed_snapshots(slot).await;
        let joined = voter && ready && wrote;
        let detail = format!(
            "voter {voter}, ready {ready}, write good {wrote}{}, snapshots installed {}{}",
            if fenced { ", DECLARED ITSELF REMOVED" } else { "" },
            installed.map_or_else(|| "?".to_string(), |n| n.to_string()),
            if joined { String::new() } else { format!("; last: {last}") }
        );
        JoinReport { joined, fenced, detail }
    }

    /// Restarts the slot's container (kill, start) and waits until its `/readyz` answers
    /// 200: how long that took after the start.
    pub async fn restart_until_ready(&self, slot: NodeId, limit: Duration) -> Result<Duration, String> {
        self.kill(slot).await?;
        self.start(slot).await?;
        let began = Instant::now();
        let mut last = String::new();
        while began.elapsed() < limit {
            match self.http.get(format!("{}/readyz", self.http_base(slot))).send().await {
                Ok(r) if r.status().as_u16() == 200 => return Ok(began.elapsed()),
                Ok(r) => last = format!("{} {}", r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(format!("not ready {limit:?} after a restart: {last}"))
    }

    /// `quorumdns_raft_snapshots_total{origin="installed"}` of the slot.
    async fn installed_snapshots(&self, slot: NodeId) -> Option<u64> {
        let text = self.http.get(format!("{}/metrics", self.http_base(slot))).send().await.ok()?.text().await.ok()?;
        let line = text.lines().find(|l| l.starts_with("quorumdns_raft_snapshots_total{origin=\"installed\"}"));
        Some(line.and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok()).map_or(0, |v| v as u64))
    }

    /// `host`'s update history as `slot` holds it, in apply order (oldest first), and
    /// whether it may have been truncated by the per-host limit.
    pub async fn host_history(
        &self,
        slot: NodeId,
        host: &str,
    ) -> Result<(Vec<crate::history::HistoryEntry>, bool), String> {
        let (status, v) = self.api(slot, reqwest::Method::GET, &format!("/api/v1/hosts/{host}/history"), None).await?;
        if status != 200 {
            return Err(format!("history of {host} at node {slot}: {status} {v}"));
        }
        let text = |x: &Value| x.as_str().map(String::from);
        let mut entries: Vec<crate::history::HistoryEntry> = v["history"]
            .as_array()
            .ok_or_else(|| format!("history of {host}: no list in {v}"))?
            .iter()
            .map(|e| crate::history::HistoryEntry {
                index: e["index"].as_u64().unwrap_or(0),
                serial: e["serial"].as_u64().unwrap_or(0) as u32,
                result: text(&e["result"]).unwrap_or_default(),
                user_agent: text(&e["user_agent"]).unwrap_or_default(),
                old_ipv4: text(&e["old_ipv4"]),
                new_ipv4: text(&e["new_ipv4"]),
            })
            .collect();
        // The API lists the newest first; several entries share an index when one log
        // entry carried several updates (group commit): reversed, they are in apply order.
        entries.reverse();
        let truncated = entries.len() >= HISTORY_PER_HOST as usize;
        Ok((entries, truncated))
    }

    /// Imports about `mb` MB of TXT records as zones `ballast<k>.test` of 1 MB each
    /// through node 1 (one log entry each: one entry of tens of MB does not replicate
    /// within the 200 ms AppendEntries timeout), so that every snapshot, and so every
    /// snapshot a joining member installs, is that much larger. Nothing reads them.
    pub async fn import_ballast(&self, mb: u64) -> Result<String, String> {
        let began = Instant::now();
        let pad = "x".repeat(200);
        let mut records = 0u64;
        for k in 0..mb {
            let zone = format!("ballast{k}.test");
            let mut text = format!(
                "$ORIGIN {zone}.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A {}\n",
                self.ip(1)
            );
            while text.len() < 1_000_000 {
                text.push_str(&format!("b{records} IN TXT \"{records:08}{pad}\"\n"));
                records += 1;
            }
            let mut last = String::new();
            for _ in 0..10 {
                let sent = self
                    .http
                    .put(format!("{}/api/v1/zones/{zone}/import", self.http_base(1)))
                    .bearer_auth(&self.admin_token)
                    .header(reqwest::header::CONTENT_TYPE, "text/dns")
                    .timeout(Duration::from_secs(60))
                    .body(text.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        last.clear();
                        break;
                    }
                    Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if !last.is_empty() {
                return Err(format!("ballast import of {zone}: {last}"));
            }
        }
        Ok(format!("{records} TXT records in {mb} zones of 1 MB in {:.1} s", began.elapsed().as_secs_f64()))
    }

    pub fn host_names(&self) -> Vec<String> {
        self.hosts.lock().unwrap().iter().map(|(h, _)| h.clone()).collect()
    }

    pub fn secret(&self, host: &str) -> String {
        self.hosts.lock().unwrap().iter().find(|(h, _)| h == host).map(|(_, s)| s.clone()).unwrap_or_default()
    }

    async fn pid(&self, slot: NodeId) -> Result<String, String> {
        let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &self.container(slot)]).await?;
        if pid == "0" || pid.is_empty() {
            return Err(format!("node {slot} is not running"));
        }
        Ok(pid)
    }

    /// Drops, inside the slot's network namespace, every packet from the given slots.
    pub async fn drop_from(&self, slot: NodeId, from: &[NodeId]) -> Result<(), String> {
        let pid = self.pid(slot).await?;
        for f in from {
            let ip = self.ip(*f).to_string();
            sh("nsenter", &["-t", &pid, "-n", "iptables", "-w", "-A", "INPUT", "-s", &ip, "-j", "DROP"]).await?;
        }
        Ok(())
    }

    /// Cuts every link between a node of `a` and a node of `b` (both directions).
    pub async fn cut(&self, a: &[NodeId], b: &[NodeId]) -> Result<(), String> {
        for x in a {
            self.drop_from(*x, b).await?;
        }
        for y in b {
            self.drop_from(*y, a).await?;
        }
        Ok(())
    }

    /// Removes every packet filter (running containers only).
    pub async fn heal_network(&self) -> Result<(), String> {
        for slot in 1..=NODES {
            if let Ok(pid) = self.pid(slot).await {
                sh("nsenter", &["-t", &pid, "-n", "iptables", "-w", "-F", "INPUT"]).await?;
            }
        }
        Ok(())
    }

    pub async fn kill(&self, slot: NodeId) -> Result<(), String> {
        docker(&["kill", "-s", "KILL", &self.container(slot)]).await.map(|_| ())
    }

    pub async fn start(&self, slot: NodeId) -> Result<(), String> {
        docker(&["start", &self.container(slot)]).await.map(|_| ())
    }

    pub async fn pause(&self, slot: NodeId) -> Result<(), String> {
        docker(&["pause", &self.container(slot)]).await.map(|_| ())
    }

    pub async fn unpause(&self, slot: NodeId) -> Result<(), String> {
        docker(&["unpause", &self.container(slot)]).await.map(|_| ())
    }

    /// Everything back to normal: unpaused, started, no packet filters.
    pub async fn heal_all(&self) -> Result<(), String> {
        for slot in 1..=NODES {
            let state = docker(&["inspect", "-f", "{{.State.Status}}", &self.container(slot)]).await?;
            match state.as_str() {
                "paused" => self.unpause(slot).await?,
                "exited" | "created" => self.start(slot).await?,
                _ => {}
            }
        }
        self.heal_network().await
    }

    /// Removes the slot's member from the cluster (through any other node).
    pub async fn remove_member(&self, slot: NodeId, limit: Duration) -> Result<String, String> {
        let id = self.raft_id(slot);
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        loop {
            for via in (1..=NODES).filter(|s| *s != slot) {
                match self.api(via, reqwest::Method::DELETE, &format!("/api/v1/cluster/nodes/{id}"), None).await {
                    Ok((200, v)) => return Ok(format!("removed id {id} via node {via}: voters {}", v["voters"])),
                    Ok((404, v)) => return Ok(format!("id {id} already gone: {v}")),
                    Ok((s, v)) => last = format!("{s} {v}"),
                    Err(e) => last = e,
                }
            }
            if Instant::now() > deadline {
                return Err(format!("remove id {id}: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Wipes the slot (its logs are kept in the results) and starts it again, empty, with
    /// a new Raft id: the old and new ids.
    pub async fn wipe(&self, slot: NodeId) -> Result<(u64, u64), String> {
        let old = self.raft_id(slot);
        self.save_logs(slot, &format!("node{slot}-id{old}.log")).await;
        docker(&["rm", "-f", &self.container(slot)]).await?;
        docker(&["volume", "rm", "-f", &self.volume(slot, old)]).await?;
        let id = {
            let mut n = self.next_id.lock().unwrap();
            *n += 1;
            *n - 1
        };
        self.ids.lock().unwrap()[slot as usize - 1] = id;
        self.start_node(slot, id).await?;
        Ok((old, id))
    }

    /// Adds the slot's (new) member and promotes it.
    pub async fn rejoin(&self, slot: NodeId, limit: Duration) -> Result<(), String> {
        self.join(slot, Instant::now() + limit).await
    }

    pub async fn save_logs(&self, slot: NodeId, file: &str) {
        let dir = self.dir.join("logs");
        let _ = std::fs::create_dir_all(&dir);
        let out = Command::new("docker").args(["logs", "-t", &self.container(slot)]).output().await;
        if let Ok(out) = out {
            let mut text = out.stdout;
            text.extend_from_slice(&out.stderr);
            let _ = std::fs::write(dir.join(file), text);
        }
    }

    pub async fn collect_logs(&self) {
        for slot in 1..=NODES {
            let id = self.raft_id(slot);
            self.save_logs(slot, &format!("node{slot}-id{id}.log")).await;
        }
    }

    /// Removes every container, volume and the network of this run (synchronously, so it
    /// also works from `Drop`). Idempotent.
    pub fn teardown(&self) {
        let mut done = self.torn_down.lock().unwrap();
        if *done {
            return;
        }
        *done = true;
        let filter = format!("label=quorumdns-jepsen={}", self.tag);
        let list = |args: &[&str]| -> Vec<String> {
            std::process::Command::new("docker")
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(String::from).collect())
                .unwrap_or_default()
        };
        let containers = list(&["ps", "-aq", "--filter", &filter]);
        if !containers.is_empty() {
            let _ = std::process::Command::new("docker").args(["rm", "-f"]).args(&containers).output();
        }
        let volumes = list(&["volume", "ls", "-q", "--filter", &filter]);
        if !volumes.is_empty() {
            let _ = std::process::Command::new("docker").args(["volume", "rm", "-f"]).args(&volumes).output();
        }
        let _ = std::process::Command::new("docker").args(["network", "rm", &self.network]).output();
        eprintln!("removed {} containers, {} volumes and network {}", containers.len(), volumes.len(), self.network);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}
