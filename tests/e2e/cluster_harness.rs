//! A cluster of real `quorumdns` processes on loopback. Ports are picked up front and
//! written into each node's config, so a node killed with `kill -9` comes back on the
//! same addresses (its peers know it by its raft address).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{eventually, Node, ZONE};

pub(crate) const SECRET: &str = "e2e-cluster-secret-0123456789abcdef";
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// A free port on 127.0.0.1 for both TCP and UDP (DNS needs both), chosen below the
/// kernel's ephemeral range (32768+): a node restarted after `kill -9` must get its old
/// ports back, and a port handed out by `bind(0)` elsewhere in the test run (another
/// node, an outgoing connection) could otherwise take it in between.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(0, 20_000 + (std::process::id() % 5_000) as u16, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "ran out of test ports");
        let tcp = TcpListener::bind(("127.0.0.1", port));
        if tcp.is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub id: u64,
    pub dns: SocketAddr,
    pub http: SocketAddr,
    pub raft: SocketAddr,
    pub dir: PathBuf,
    pub bootstrap: bool,
    pub snapshot_every: u64,
    /// More keys for the `[[zone]]` table (`acme_dns = true`...).
    pub zone_extra: String,
}

impl Spec {
    pub(crate) fn new(id: u64, root: &std::path::Path, bootstrap: bool, snapshot_every: u64) -> Spec {
        let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
        Spec {
            id,
            dns: addr(free_port()),
            http: addr(free_port()),
            raft: addr(free_port()),
            dir: root.join(format!("node{id}")),
            bootstrap,
            snapshot_every,
            zone_extra: String::new(),
        }
    }

    fn config(&self) -> String {
        format!(
            r#"[node]
id = {id}
data_dir = "{dir}"
dns_addr = "{dns}"
http_addr = "{http}"
raft_addr = "{raft}"

[cluster]
bootstrap = {bootstrap}
heartbeat_ms = 100
election_timeout_min_ms = 800
election_timeout_max_ms = 1600
rpc_timeout_ms = 1000
write_timeout_ms = 8000
snapshot_every = {snap}
stale_after_ms = 2000

[[zone]]
name = "{ZONE}"
ns = ["ns1.{ZONE}"]
records = ["ns1 3600 IN A 127.0.0.1"]
{zone_extra}
"#,
            id = self.id,
            dir = self.dir.display(),
            dns = self.dns,
            http = self.http,
            raft = self.raft,
            bootstrap = self.bootstrap,
            snap = self.snapshot_every,
            zone_extra = self.zone_extra,
        )
    }

    pub(crate) fn start(&self) -> Node {
        std::fs::create_dir_all(&self.dir).expect("data dir");
        let path = self.dir.with_extension("toml");
        std::fs::write(&path, self.config()).expect("config written");
        let mut cmd = Command::new(crate::harness::binary());
        cmd.args(["serve", "--config"]).arg(&path).env("QUORUMDNS_CLUSTER_SECRET", SECRET);
        Node::spawn(cmd, &self.dir)
    }

    pub(crate) fn member_json(&self) -> Value {
        json!({"id": self.id, "raft_addr": self.raft.to_string(), "http_addr": self.http.to_string(), "dns_addr": self.dns.to_string()})
    }
}

pub(crate) struct Cluster {
    pub specs: Vec<Spec>,
    pub nodes: Vec<Option<Node>>,
    pub root: tempfile::TempDir,
}

impl Cluster {
    /// `n` nodes: node 1 bootstraps with the zone, the others join as learners and are
    /// promoted, through the admin API of node 1.
    pub(crate) async fn start(n: u64, snapshot_every: u64) -> Cluster {
        Cluster::start_with_zone(n, snapshot_every, "").await
    }

    /// Like [`Cluster::start`], with `zone_extra` added to every node's `[[zone]]` table.
    pub(crate) async fn start_with_zone(n: u64, snapshot_every: u64, zone_extra: &str) -> Cluster {
        let root = tempfile::tempdir().expect("tempdir");
        let specs: Vec<Spec> = (1..=n)
            .map(|id| Spec {
                zone_extra: zone_extra.to_string(),
                ..Spec::new(id, root.path(), id == 1, snapshot_every)
            })
            .collect();
        let mut c = Cluster { nodes: specs.iter().map(|s| Some(s.start())).collect(), specs, root };
        c.wait_serial_on(0).await;
        for i in 1..n as usize {
            c.join(i).await;
        }
        c
    }

    /// Adds node `i` as a learner (through node 1) and promotes it.
    pub(crate) async fn join(&mut self, i: usize) {
        let spec = self.specs[i].clone();
        let mut body = spec.member_json();
        body["wait_secs"] = json!(30);
        let entry = self.any_live();
        let (s, b) = self.node(entry).api(Method::POST, "/api/v1/cluster/nodes", Some(body)).await;
        assert_eq!(s, 201, "add node {}: {b}", spec.id);
        let (s, b) =
            self.node(entry).api(Method::POST, &format!("/api/v1/cluster/nodes/{}/promote", spec.id), None).await;
        assert_eq!(s, 200, "promote node {}: {b}", spec.id);
    }

    pub(crate) fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is running")
    }

    pub(crate) fn live(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].is_some()).collect()
    }

    pub(crate) fn any_live(&self) -> usize {
        self.live()[0]
    }

    async fn wait_serial_on(&self, i: usize) -> u32 {
        let node = self.node(i);
        eventually("a zone serial", WAIT, || node.try_serial()).await
    }

    /// The index of the current leader, as the live nodes agree.
    pub(crate) async fn leader(&self) -> usize {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            for i in self.live() {
                let (s, v) = self.node(i).api(Method::GET, "/api/v1/cluster", None).await;
                if s == 200 && v["this_node"]["role"] == "leader" {
                    let id = v["this_node"]["id"].as_u64().unwrap_or(0);
                    if let Some(j) = self.specs.iter().position(|sp| sp.id == id) {
                        return j;
                    }
                }
            }
            assert!(std::time::Instant::now() < deadline, "no leader among {:?}", self.live());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn follower_of(&self, leader: usize) -> usize {
        self.live().into_iter().find(|i| *i != leader).expect("a follower")
    }

    pub(crate) fn kill9(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.kill9();
        }
    }

    pub(crate) fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "node {i} still runs");
        self.nodes[i] = Some(self.specs[i].start());
    }

    /// Waits until every live node answers the same serial; returns it.
    pub(crate) async fn converged_serial(&self) -> u32 {
        let live = self.live();
        eventually("all nodes on the same serial", WAIT, || {
            let serials: Vec<Option<u32>> = live.iter().map(|i| self.node(*i).try_serial()).collect();
            let first = serials[0]?;
            serials.iter().all(|s| *s == Some(first)).then_some(first)
        })
        .await
    }

    /// Waits until every live node answers `addr` for `name` A.
    pub(crate) async fn all_answer(&self, name: &str, addr: &str) {
        let fqdn = format!("{name}.{ZONE}");
        for i in self.live() {
            let node = self.node(i);
            eventually(&format!("{fqdn} = {addr} on node {}", self.specs[i].id), WAIT, || {
                (node.dig(&[&fqdn, "A"]).answer_data("A") == vec![addr.to_string()]).then_some(())
            })
            .await;
        }
    }
}

/// Sets `name` A `addr` through node `node`, retrying 503 (leader change) until `WAIT`.
/// Returns the JSON answer (`index`, `serial`).
pub(crate) async fn set_a(node: &Node, name: &str, addr: &str) -> Value {
    let path = format!("/api/v1/zones/{ZONE}/records/{name}/A");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (s, b) = node.api(Method::PUT, &path, Some(json!({"ttl": 60, "data": [addr]}))).await;
        if s == 200 {
            return b;
        }
        assert_eq!(s, 503, "set {name} via {}: {b}", node.http);
        assert!(std::time::Instant::now() < deadline, "still 503 after {WAIT:?}: {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates TSIG keys `(name, algorithm, raw secret, policy)` through node 1 and waits until
/// every live node lists them all (so every node verifies with them).
pub(crate) async fn add_tsig_keys(c: &Cluster, keys: &[(&str, &str, &[u8], Value)]) {
    let b64 = |s: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    for (name, alg, secret, policy) in keys {
        let body = json!({"name": name, "algorithm": alg, "secret": b64(secret), "policy": policy});
        let (s, b) = c.node(0).api(Method::POST, "/api/v1/tsig", Some(body)).await;
        assert_eq!(s, 201, "{b}");
    }
    for i in c.live() {
        let node = c.node(i);
        let deadline = std::time::Instant::now() + WAIT;
        while node.api(Method::GET, "/api/v1/tsig", None).await.1["keys"].as_array().map(Vec::len) < Some(keys.len()) {
            assert!(std::time::Instant::now() < deadline, "TSIG keys not replicated to node {}", c.specs[i].id);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
