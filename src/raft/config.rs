//! `[cluster]`: Raft timing, snapshots, the write deadline and how a node joins, owned by
//! the Raft subsystem with its defaults and checks; `config` composes it.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// File holding the shared secret that authenticates Raft RPCs between nodes.
    /// `QUORUMDNS_CLUSTER_SECRET` overrides it.
    pub secret_file: Option<PathBuf>,
    /// Initialize a single-member cluster on first start. `false` for nodes that join an
    /// existing cluster (`cluster add`) or are initialized with `cluster init --member ...`.
    pub bootstrap: bool,
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub rpc_timeout_ms: u64,
    /// How long a write may wait for commit and apply before the client gets 503.
    pub write_timeout_ms: u64,
    /// Build a Raft snapshot (and purge the log behind it) every this many entries.
    pub snapshot_every: u64,
    /// A node reports itself stale (metric `quorumdns_raft_stale`, `/readyz`) when it has
    /// not heard from a leader (as leader: from a quorum) for this long.
    pub stale_after_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            secret_file: None,
            bootstrap: true,
            heartbeat_ms: 250,
            election_timeout_min_ms: 1000,
            election_timeout_max_ms: 2000,
            rpc_timeout_ms: 2000,
            write_timeout_ms: 5000,
            snapshot_every: 10_000,
            stale_after_ms: 3000,
        }
    }
}

impl ClusterConfig {
    /// What is wrong with the section, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_ms == 0 || self.election_timeout_min_ms <= self.heartbeat_ms {
            return Err("cluster.election_timeout_min_ms must be greater than cluster.heartbeat_ms (> 0)".into());
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return Err("cluster.election_timeout_max_ms must be greater than election_timeout_min_ms".into());
        }
        if self.stale_after_ms <= self.heartbeat_ms {
            return Err("cluster.stale_after_ms must be greater than cluster.heartbeat_ms".into());
        }
        if self.snapshot_every == 0 || self.write_timeout_ms == 0 || self.rpc_timeout_ms == 0 {
            return Err("cluster.snapshot_every, write_timeout_ms and rpc_timeout_ms must be positive".into());
        }
        Ok(())
    }
}
