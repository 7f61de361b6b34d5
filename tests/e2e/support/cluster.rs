//! A cluster of real `quorumdns` processes on loopback. Ports are picked up front and
//! written into each node's config, so a node killed with `kill -9` comes back on the
//! same addresses (its peers know it by its raft address).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::config::{ClusterSection, NodeConfig, NodeSection, Zone};
use super::node::{free_port, Node};
use super::wait::{eventually, eventually_every};
use super::{WAIT, ZONE};

/// The shared secret of the cluster's Raft RPCs (`QUORUMDNS_CLUSTER_SECRET`).
pub(crate) const SECRET: &str = "e2e-cluster-secret-0123456789abcdef";

/// One member: its configuration (fixed ports, data under the cluster's root).
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub config: NodeConfig,
}

impl Spec {
    /// Node `id` on fresh fixed ports with its data in `root/node<id>`: fast elections
    /// and the test zone.
    pub(crate) fn new(id: u64, root: &Path, bootstrap: bool, snapshot_every: u64) -> Spec {
        let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
        let config = NodeConfig {
            node: NodeSection {
                id,
                data_dir: root.join(format!("node{id}")),
                dns_addr: addr(free_port()),
                http_addr: addr(free_port()),
                raft_addr: addr(free_port()),
            },
            cluster: ClusterSection {
                bootstrap: Some(bootstrap),
                heartbeat_ms: Some(100),
                election_timeout_min_ms: Some(800),
                election_timeout_max_ms: Some(1600),
                rpc_timeout_ms: Some(1000),
                write_timeout_ms: Some(8000),
                snapshot_every: Some(snapshot_every),
                stale_after_ms: Some(2000),
            },
            zones: vec![Zone::test()],
            ..NodeConfig::default()
        };
        let mut config = config;
        config.dyndns.public_url = Some(format!("http://{}", config.node.http_addr));
        Spec { config }
    }

    pub(crate) fn id(&self) -> u64 {
        self.config.node.id
    }

    pub(crate) fn dns(&self) -> SocketAddr {
        self.config.node.dns_addr
    }

    pub(crate) fn http(&self) -> SocketAddr {
        self.config.node.http_addr
    }

    pub(crate) fn raft(&self) -> SocketAddr {
        self.config.node.raft_addr
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.config.node.data_dir
    }

    /// Writes the config next to the data directory and starts the node.
    pub(crate) fn start(&self) -> Node {
        self.start_binary(&super::node::binary())
    }

    /// [`Self::start`] with another binary (an older release, for upgrades).
    pub(crate) fn start_binary(&self, bin: &Path) -> Node {
        let mut cmd = Node::serve_command_of(bin, &self.config, &self.dir().with_extension("toml"));
        cmd.env("QUORUMDNS_CLUSTER_SECRET", SECRET);
        Node::spawn(cmd, self.dir())
    }

    pub(crate) fn member_json(&self) -> Value {
        json!({"id": self.id(), "raft_addr": self.raft().to_string(), "http_addr": self.http().to_string(), "dns_addr": self.dns().to_string()})
    }
}

/// A change [`ClusterBuilder::configure`] makes to every node's configuration.
type Edit = Box<dyn Fn(&mut NodeConfig)>;

/// How [`Cluster::builder`] makes a cluster.
pub(crate) struct ClusterBuilder {
    nodes: u64,
    snapshot_every: u64,
    edits: Vec<Edit>,
    binary: Option<std::path::PathBuf>,
}

impl ClusterBuilder {
    /// A Raft snapshot every `n` log entries (default 10,000).
    pub(crate) fn snapshot_every(mut self, n: u64) -> Self {
        self.snapshot_every = n;
        self
    }

    /// Starts every node with `bin` instead of this tree's binary.
    pub(crate) fn binary(mut self, bin: &Path) -> Self {
        self.binary = Some(bin.to_path_buf());
        self
    }

    /// Changes every node's configuration with `edit`.
    pub(crate) fn configure(mut self, edit: impl Fn(&mut NodeConfig) + 'static) -> Self {
        self.edits.push(Box::new(edit));
        self
    }

    /// Node 1 bootstraps with the zone, the others join as learners and are promoted,
    /// through the admin API of node 1.
    pub(crate) async fn start(self) -> Cluster {
        let root = tempfile::tempdir().expect("tempdir");
        let specs: Vec<Spec> = (1..=self.nodes)
            .map(|id| {
                let mut spec = Spec::new(id, root.path(), id == 1, self.snapshot_every);
                self.edits.iter().for_each(|edit| edit(&mut spec.config));
                spec
            })
            .collect();
        let bin = self.binary.unwrap_or_else(super::node::binary);
        let mut c = Cluster { nodes: specs.iter().map(|s| Some(s.start_binary(&bin))).collect(), specs, root };
        let first = c.node(0);
        eventually("a zone serial", WAIT, async || first.try_serial()).await;
        for i in 1..self.nodes as usize {
            c.join(i).await;
        }
        c
    }
}

pub(crate) struct Cluster {
    pub specs: Vec<Spec>,
    pub nodes: Vec<Option<Node>>,
    pub root: tempfile::TempDir,
}

impl Cluster {
    /// A cluster of `nodes` nodes, as [`ClusterBuilder`] configures it.
    pub(crate) fn builder(nodes: u64) -> ClusterBuilder {
        ClusterBuilder { nodes, snapshot_every: 10_000, edits: Vec::new(), binary: None }
    }

    /// `n` nodes with a snapshot every `snapshot_every` entries.
    pub(crate) async fn start(n: u64, snapshot_every: u64) -> Cluster {
        Cluster::builder(n).snapshot_every(snapshot_every).start().await
    }

    /// Adds node `i` as a learner (through node 1) and promotes it.
    pub(crate) async fn join(&mut self, i: usize) {
        let spec = self.specs[i].clone();
        let mut body = spec.member_json();
        body["wait_secs"] = json!(30);
        let entry = self.any_live();
        let (s, b) = self.node(entry).api(Method::POST, "/api/v1/cluster/nodes", Some(body)).await;
        assert_eq!(s, 201, "add node {}: {b}", spec.id());
        let (s, b) =
            self.node(entry).api(Method::POST, &format!("/api/v1/cluster/nodes/{}/promote", spec.id()), None).await;
        assert_eq!(s, 200, "promote node {}: {b}", spec.id());
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

    /// The index of the current leader, as the live nodes agree.
    pub(crate) async fn leader(&self) -> usize {
        eventually_every(format!("a leader among {:?}", self.live()), WAIT, Duration::from_millis(100), async || {
            for i in self.live() {
                let (s, v) = self.node(i).api(Method::GET, "/api/v1/cluster", None).await;
                if s == 200 && v["this_node"]["role"] == "leader" {
                    let id = v["this_node"]["id"].as_u64().unwrap_or(0);
                    if let Some(j) = self.specs.iter().position(|sp| sp.id() == id) {
                        return Some(j);
                    }
                }
            }
            None
        })
        .await
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
        self.restart_binary(i, &super::node::binary());
    }

    /// Restarts node `i` (stopped) with `bin`: an upgrade (or a downgrade).
    pub(crate) fn restart_binary(&mut self, i: usize, bin: &Path) {
        assert!(self.nodes[i].is_none(), "node {i} still runs");
        self.nodes[i] = Some(self.specs[i].start_binary(bin));
    }

    /// Stops node `i` with SIGTERM (a clean shutdown, as an upgrade does).
    pub(crate) fn terminate(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            let status = n.terminate();
            assert!(status.success(), "node {i} stopped cleanly: {status}");
        }
    }

    /// Waits until every live node answers the same serial; returns it.
    pub(crate) async fn converged_serial(&self) -> u32 {
        let live = self.live();
        eventually("all nodes on the same serial", WAIT, async || {
            let serials: Vec<Option<u32>> = live.iter().map(|i| self.node(*i).try_serial()).collect();
            let first = serials[0].ok_or_else(|| format!("{serials:?}"))?;
            if serials.iter().all(|s| *s == Some(first)) {
                Ok(first)
            } else {
                Err(format!("{serials:?}"))
            }
        })
        .await
    }

    /// Waits until every live node answers `addr` for `name` A.
    pub(crate) async fn all_answer(&self, name: &str, addr: &str) {
        let fqdn = format!("{name}.{ZONE}");
        for i in self.live() {
            let node = self.node(i);
            eventually(format!("{fqdn} = {addr} on node {}", self.specs[i].id()), WAIT, async || {
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
    let what = format!("set {name} via {} (503 while no leader)", node.http);
    eventually_every(what, WAIT, Duration::from_millis(100), async || {
        let (s, b) = node.api(Method::PUT, &path, Some(json!({"ttl": 60, "data": [addr]}))).await;
        if s == 200 {
            return Ok(b);
        }
        assert_eq!(s, 503, "set {name} via {}: {b}", node.http);
        Err(b)
    })
    .await
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
        let what = format!("TSIG keys replicated to node {}", c.specs[i].id());
        eventually_every(what, WAIT, Duration::from_millis(50), async || {
            let listed = node.api(Method::GET, "/api/v1/tsig", None).await.1["keys"].as_array().map(Vec::len);
            (listed >= Some(keys.len())).then_some(())
        })
        .await;
    }
}
