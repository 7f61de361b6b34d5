//! openraft glue: the type configuration, the log store and state machine on the storage
//! trait, the HTTP transport between nodes, and [`RaftNode`], which wires them together.
//!
//! Write path: a handler calls [`RaftNode::write`]; on the leader that is `client_write`
//! (through the group writer for the frequent updates), which returns once the entry is
//! committed (fsynced on a quorum) and applied here. On a follower the group writer sends
//! the frequent updates to the leader in batches; any other command gets
//! [`WriteError::ForwardToLeader`] and is forwarded with [`RaftNode::forward_to`]. Either
//! way the follower then waits with [`RaftNode::wait_applied`] until its own state machine
//! caught up, so it answers only with what it already serves.

pub mod auth;
pub mod config;
pub mod group;
pub mod health;
pub mod log_store;
pub mod membership;
pub mod network;
pub mod rpc;
pub mod seed;
pub mod state_machine;
pub mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, InitializeError, RaftError as OpenRaftError};
use openraft::{Config, SnapshotPolicy};
use tokio::sync::watch;
use tracing::Instrument;

pub use auth::{ClusterSecret, AUTH_HEADER};
pub use health::{Health, NodeStatus, PartitionSwitch};
pub use log_store::LogStore;
pub use membership::{MembershipChange, MembershipError, MembershipOutcome, Refusal};
pub use network::{ForwardError, NetworkFactory, RpcClient, TransportError};
pub use rpc::rpc_router;
pub use state_machine::{StateHandle, StateMachine};
pub use types::{NodeId, NodeInfo, Raft, Request, Response, TypeConfig};

use crate::state::{Command, StateObserver};
use crate::store::{SledStore, Store, StoreError};

/// Log entries kept behind a snapshot, so a follower that lags a little catches up from
/// the log instead of receiving the whole snapshot.
pub const LOGS_KEPT_AFTER_SNAPSHOT: u64 = 16;

/// How long [`RaftNode::write`] waits for commit and apply before giving up. The entry
/// may still commit later; callers answer "try again" and commands are safe to retry.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`RaftNode::shutdown`] waits for Raft's tasks to release the storage.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `open` needs: this node's identity and data directory, the cluster secret, and
/// the `[cluster]` section as configured (timings, snapshots).
#[derive(Clone, Debug)]
pub struct RaftSettings {
    /// Never reused: a removed node id stays retired.
    pub node_id: NodeId,
    pub data_dir: PathBuf,
    pub cluster_secret: Vec<u8>,
    pub cluster: config::ClusterConfig,
    /// Test hook: cut this node off from its peers.
    pub partition: PartitionSwitch,
}

#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid raft configuration: {0}")]
    Config(String),
    #[error("raft transport: {0}")]
    Transport(#[from] TransportError),
    #[error("raft: {0}")]
    Raft(String),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// This node is not the leader; `leader` tells where to forward, when known.
    #[error("not the leader (leader: {leader_id:?})")]
    ForwardToLeader { leader_id: Option<NodeId>, leader: Option<NodeInfo> },
    /// Not committed and applied in time (no quorum, leader change). It may still commit.
    #[error("timed out waiting for the cluster")]
    Timeout,
    /// Raft stopped (shutdown or a storage failure).
    #[error("raft stopped: {0}")]
    Fatal(String),
}

pub struct RaftNode {
    pub raft: Raft,
    pub state: StateHandle,
    /// The last applied log index of this node.
    pub applied: watch::Receiver<u64>,
    pub node_id: NodeId,
    pub health: Arc<Health>,
    secret: Arc<ClusterSecret>,
    client: RpcClient,
    store: Arc<dyn Store>,
    /// Group commit of the frequent updates (see [`group`]).
    group: group::GroupWriter,
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

fn raft_config(s: &RaftSettings) -> Result<Config, RaftError> {
    let config = Config {
        cluster_name: "quorumdns".into(),
        heartbeat_interval: s.cluster.heartbeat_ms,
        election_timeout_min: s.cluster.election_timeout_min_ms,
        election_timeout_max: s.cluster.election_timeout_max_ms,
        install_snapshot_timeout: s.cluster.rpc_timeout_ms,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(s.cluster.snapshot_every),
        max_in_snapshot_log_to_keep: LOGS_KEPT_AFTER_SNAPSHOT,
        ..Config::default()
    };
    config.validate().map_err(|e| RaftError::Config(e.to_string()))
}

/// Opens the node's storage, restores the state machine and starts Raft. The node does
/// nothing until it is initialized or contacted by a leader.
pub async fn open(settings: RaftSettings, observer: Arc<dyn StateObserver>) -> Result<RaftNode, RaftError> {
    let config = Arc::new(raft_config(&settings)?);
    if settings.cluster_secret.is_empty() {
        return Err(RaftError::Config("the cluster secret is empty: peers could not be authenticated".into()));
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&settings.data_dir.join("db"))?);
    let log_store = LogStore::open(store.clone())?;
    let sm = StateMachine::open(store.clone(), observer)?;
    sm.handle().set_node_id(settings.node_id);
    let state = sm.handle();
    let applied = sm.applied_receiver();

    let secret = Arc::new(ClusterSecret::new(settings.cluster_secret.clone()));
    let health =
        Arc::new(Health::new(Duration::from_millis(settings.cluster.stale_after_ms), settings.partition.clone()));
    let client = RpcClient::new(secret.clone(), Duration::from_millis(settings.cluster.rpc_timeout_ms))?
        .with_health(health.clone());
    let network = NetworkFactory::new(settings.node_id, client.clone());

    let raft = Raft::new(settings.node_id, config, network, log_store, sm)
        .await
        .map_err(|e| RaftError::Raft(e.to_string()))?;
    tracing::info!(node_id = settings.node_id, applied = *applied.borrow(), "raft node opened");
    let group = group::GroupWriter::start(raft.clone(), client.clone(), WRITE_TIMEOUT);
    Ok(RaftNode { raft, state, applied, node_id: settings.node_id, health, secret, client, store, group })
}

impl RaftNode {
    /// Bootstraps a one-member cluster made of this node, unless the node already belongs
    /// to a cluster (so calling it on every start is harmless).
    pub async fn initialize_single(&self, info: NodeInfo) -> Result<(), RaftError> {
        self.initialize(BTreeMap::from([(self.node_id, info)])).await
    }

    /// Bootstraps a cluster with these voters. Run it on one node only; a node that is
    /// already initialized leaves its membership alone.
    pub async fn initialize(&self, members: BTreeMap<NodeId, NodeInfo>) -> Result<(), RaftError> {
        if self.raft.is_initialized().await.map_err(|e| RaftError::Raft(e.to_string()))? {
            return Ok(());
        }
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            // Raced with a leader that reached us meanwhile: we are part of a cluster now.
            Err(OpenRaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(RaftError::Raft(e.to_string())),
        }
    }

    /// Proposes `command`. On the leader it returns once the entry is committed and applied
    /// on this node. On a follower, the frequent updates ([`group::groupable`]) go to the
    /// leader in batches and return once committed and applied **on the leader** (callers
    /// wait for their own node with [`Self::wait_applied`]); other commands return
    /// [`WriteError::ForwardToLeader`].
    pub async fn write(&self, command: Command) -> Result<Response, WriteError> {
        self.write_within(command, WRITE_TIMEOUT).await
    }

    /// [`Self::write`], waiting up to `limit` for a command that has an entry of its own
    /// (the group writer's entries keep [`WRITE_TIMEOUT`]).
    pub async fn write_within(&self, command: Command, limit: Duration) -> Result<Response, WriteError> {
        if group::groupable(&command) {
            // The group writer proposes from this node only when it leads; a follower
            // learns where the leader is from the refusal, as with a direct write.
            return self.group.write(command).await.map_err(|e| match e {
                Refusal::NotLeader { leader_id, leader } => WriteError::ForwardToLeader { leader_id, leader },
                Refusal::NoQuorum(_) => WriteError::Timeout,
                Refusal::Fatal(m) => WriteError::Fatal(m),
            });
        }
        let span = tracing::info_span!("raft_write", kind = command.kind(), index = tracing::field::Empty);
        let write = self.raft.client_write(Request { command });
        match tokio::time::timeout(limit, write).instrument(span.clone()).await {
            Err(_) => Err(WriteError::Timeout),
            Ok(Ok(resp)) => {
                span.record("index", resp.log_id.index);
                Ok(resp.data)
            }
            Ok(Err(OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(WriteError::ForwardToLeader { leader_id: f.leader_id, leader: f.leader_node })
            }
            Ok(Err(e)) => Err(WriteError::Fatal(e.to_string())),
        }
    }

    /// Sends a write to `leader` over the raft port (see [`rpc`]).
    pub async fn forward_to(&self, leader: &NodeInfo, req: Request) -> Result<Response, ForwardError> {
        self.client.forward_to(leader, &req).await
    }

    /// Batches of updates this node forwarded to a leader, one call each (see [`group`]).
    pub fn forwarded_batches(&self) -> u64 {
        self.group.forwarded_batches()
    }

    /// The node's database (the storage probe and backups use it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The signed client for the raft port (forwarding, read index, membership, status).
    pub fn client(&self) -> &RpcClient {
        &self.client
    }

    /// This node's status (see [`health::local_status`]).
    pub fn status(&self) -> NodeStatus {
        health::local_status(&self.raft, &self.health)
    }

    /// Waits until this node applied `index` (or more); returns the applied index.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<u64, WriteError> {
        let mut rx = self.applied.clone();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= index)).await;
        match waited {
            Err(_) => Err(WriteError::Timeout),
            Ok(Err(_)) => Err(WriteError::Fatal("the state machine stopped".into())),
            Ok(Ok(applied)) => Ok(*applied),
        }
    }

    /// The internal RPC router of this node (serve on the raft port only).
    pub fn rpc_router(&self) -> axum::Router {
        rpc_router(self.raft.clone(), self.secret.clone(), self.health.clone(), self.state.clone(), self.group.clone())
    }

    /// Stops Raft and flushes storage. The database closes when the node is dropped, so
    /// the same directory can be opened again right after.
    pub async fn shutdown(&self) -> Result<(), RaftError> {
        self.raft.shutdown().await.map_err(|e| RaftError::Raft(e.to_string()))?;
        // The state machine worker and snapshot builders end shortly after the core; wait
        // for them to let go of the storage so nothing writes after the final flush.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while Arc::strong_count(&self.store) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&self.store) > 1 {
            tracing::warn!("raft tasks still hold the storage after shutdown");
        }
        self.store.flush("shutdown").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
