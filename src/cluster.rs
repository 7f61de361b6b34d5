//! Cluster administration as the HTTP API and the CLI see it: initialize, add a learner,
//! promote, remove (node ids are retired for good), and a status table gathered from
//! every member over the internal RPC. Membership changes run on the leader; any node
//! takes the request and forwards it there.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::raft::{
    ForwardError, MembershipChange, MembershipError, MembershipOutcome, NodeId, NodeInfo, NodeStatus, Refusal,
};
use crate::service::{Service, SubmitError};
use crate::state::{ClusterVersion, Command};
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Membership(MembershipError),
    #[error("this node already belongs to a cluster")]
    AlreadyInitialized,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

/// How long `cluster status` waits for each member to answer.
const STATUS_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemberStatus {
    pub id: NodeId,
    pub voter: bool,
    pub raft_addr: String,
    pub http_addr: String,
    pub dns_addr: String,
    pub reachable: bool,
    pub error: Option<String>,
    pub role: Option<String>,
    pub term: Option<u64>,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
    /// Entries this member's applied index trails the leader's last log index.
    pub lag: Option<u64>,
    pub leader: Option<NodeId>,
    pub stale: Option<bool>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClusterStatus {
    /// The node that answered and its own view.
    pub this_node: NodeStatus,
    pub leader: Option<NodeId>,
    pub members: Vec<MemberStatus>,
    /// Node ids removed from the cluster, never to be reused.
    pub retired: Vec<NodeId>,
    /// The data format the cluster writes (raised once every member understands it).
    pub format_version: u8,
}

impl Service {
    /// Runs a membership change on the leader, wherever it is.
    async fn change(&self, change: MembershipChange, limit: Duration) -> Result<MembershipOutcome, ClusterError> {
        let deadline = Instant::now() + limit;
        let result = self
            .on_leader(
                deadline,
                |left| {
                    let change = change.clone();
                    async move {
                        let raft = self.raft_node();
                        match crate::raft::membership::leader_change(&raft.raft, &raft.state, change, left).await {
                            Err(MembershipError::Refused(r)) => Err(r),
                            other => Ok(other),
                        }
                    }
                },
                |leader, left| {
                    let change = change.clone();
                    async move {
                        match self.raft_node().client().membership(&leader, &change, left).await {
                            Err(e) => Err(ForwardError::Transport(e)),
                            Ok(Err(MembershipError::Refused(r))) => Err(ForwardError::Remote(r)),
                            Ok(other) => Ok(other),
                        }
                    }
                },
            )
            .await?;
        result.map_err(ClusterError::Membership)
    }

    /// Bootstraps the cluster from this node: alone, or with a static list of voters
    /// (which must include this node). Then creates the configured zones.
    pub async fn cluster_init(&self, members: BTreeMap<NodeId, NodeInfo>) -> Result<Vec<NodeId>, ClusterError> {
        let members = if members.is_empty() {
            BTreeMap::from([(self.raft_node().node_id, self.self_info().clone())])
        } else {
            members
        };
        if !members.contains_key(&self.raft_node().node_id) {
            return Err(ClusterError::Invalid(format!(
                "the member list must include this node (id {})",
                self.raft_node().node_id
            )));
        }
        if members.keys().any(|id| *id == 0) {
            return Err(ClusterError::Invalid("node ids start at 1".into()));
        }
        let initialized =
            self.raft_node().raft.is_initialized().await.map_err(|e| SubmitError::Internal(e.to_string()))?;
        if initialized {
            return Err(ClusterError::AlreadyInitialized);
        }
        self.raft_node().initialize(members.clone()).await.map_err(|e| SubmitError::Internal(e.to_string()))?;
        tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "initialized the cluster");
        self.start_at_newest_format(&members).await;
        self.create_configured_zones().await?;
        Ok(members.into_keys().collect())
    }

    /// A new cluster takes the newest data format its `members` understand at once (not at
    /// the watcher's next check), so that the configured zones created next may use all
    /// of it (names with escapes need format 3).
    pub async fn start_at_newest_format(&self, members: &BTreeMap<NodeId, NodeInfo>) {
        raise_cluster_version(self, Some(members)).await;
    }

    /// Creates the zones of the config that do not exist yet (first start of a cluster).
    pub async fn create_configured_zones(&self) -> Result<(), SubmitError> {
        for (zone, cmd) in self.initial_zones() {
            if self.read(|s| s.zones.contains_key(zone)) {
                continue;
            }
            match self.submit_within(cmd.clone(), crate::service::BULK_WRITE_TIMEOUT).await {
                Ok(_) => tracing::info!(zone = %zone, "created configured zone"),
                Err(SubmitError::Refused(e)) => {
                    tracing::warn!(zone = %zone, error = %e, "configured zone not created")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Adds a learner; waits up to `wait` for it to catch up (snapshot + log).
    pub async fn cluster_add(
        &self,
        id: NodeId,
        info: NodeInfo,
        wait: Duration,
    ) -> Result<MembershipOutcome, ClusterError> {
        // A node that cannot read what the cluster writes would fail on its first entry.
        let cluster = self.read(|s| s.cluster_version);
        if let Ok(v) = self.raft_node().client().format_version(&info.raft_addr, STATUS_TIMEOUT).await {
            if ClusterVersion(v) < cluster {
                return Err(ClusterError::Invalid(format!(
                    "node {id} understands data format {v}, older than the cluster's {}: upgrade its binary first",
                    cluster.0
                )));
            }
        }
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self.change(MembershipChange::AddLearner { id, info, wait_ms }, self.write_timeout() + wait).await
    }

    pub async fn cluster_promote(&self, id: NodeId) -> Result<MembershipOutcome, ClusterError> {
        self.change(MembershipChange::Promote { id }, self.write_timeout()).await
    }

    /// Removes a member (the leader included) and retires its id for good.
    pub async fn cluster_remove(&self, id: NodeId) -> Result<MembershipOutcome, ClusterError> {
        let outcome = self.change(MembershipChange::Remove { id }, self.write_timeout()).await?;
        tracing::info!(node = id, "removed from the cluster; retiring its id");
        // After removing the leader a new one is elected first; `submit` follows it.
        self.submit(Command::RetireNode { id }).await?;
        Ok(outcome)
    }

    /// Every member's view, asked over the internal RPC in parallel.
    pub async fn cluster_status(&self) -> ClusterStatus {
        let this_node = self.raft_node().status();
        let stored = self.raft_node().raft.metrics().borrow().membership_config.clone();
        let membership = stored.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let nodes: Vec<(NodeId, NodeInfo)> = membership.nodes().map(|(id, n)| (*id, n.clone())).collect();
        let asks = nodes.iter().map(|(id, info)| async move {
            if *id == self.raft_node().node_id {
                return Ok(self.raft_node().status());
            }
            self.raft_node().client().status(&info.raft_addr, STATUS_TIMEOUT).await.map_err(|e| e.to_string())
        });
        let answers = futures::future::join_all(asks).await;
        let leader = this_node.leader;
        let leader_last = answers
            .iter()
            .filter_map(|a| a.as_ref().ok())
            .find(|s| Some(s.id) == leader && s.role == "leader")
            .map(|s| s.last_log_index);
        let members = nodes
            .into_iter()
            .zip(answers)
            .map(|((id, info), answer)| {
                let ok = answer.as_ref().ok();
                MemberStatus {
                    id,
                    voter: voters.contains(&id),
                    raft_addr: info.raft_addr,
                    http_addr: info.http_addr,
                    dns_addr: info.dns_addr,
                    reachable: ok.is_some(),
                    error: answer.as_ref().err().cloned(),
                    role: ok.map(|s| s.role.clone()),
                    term: ok.map(|s| s.term),
                    last_log_index: ok.map(|s| s.last_log_index),
                    applied_index: ok.map(|s| s.applied_index),
                    lag: ok.and_then(|s| leader_last.map(|l| l.saturating_sub(s.applied_index))),
                    leader: ok.and_then(|s| s.leader),
                    stale: ok.map(|s| s.stale),
                }
            })
            .collect();
        let retired = self.read(|s| s.retired_nodes.iter().copied().collect());
        let format_version = self.read(|s| s.cluster_version.0);
        ClusterStatus { this_node, leader, members, retired, format_version }
    }
}

impl From<Refusal> for ClusterError {
    fn from(r: Refusal) -> Self {
        ClusterError::Membership(MembershipError::Refused(r))
    }
}

/// How often [`watch`] refreshes the Raft gauges and checks whether this node was removed.
const WATCH_EVERY: Duration = Duration::from_millis(200);
/// How often the leader asks the members which data format they understand, while the
/// cluster's is older than this binary's.
const VERSION_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Keeps the Raft gauges current and notices when this node was removed.
///
/// Removal is decided from committed facts only: this node's id in the replicated retired
/// set, or an applied (committed) membership without this node that is newer than an
/// applied membership that named it (tracked as entries are applied:
/// `StateHandle::dropped_from_membership`). A joining node that installs a snapshot taken before
/// its own `add` sees a membership without itself that is not newer than one naming it
/// (it has seen none yet), so it does not fence itself. A removed node stops campaigning
/// (it cannot disturb the others) and refuses writes; `/readyz` says why.
pub(crate) async fn watch(svc: std::sync::Arc<Service>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let me = svc.node_id();
    let mut announced = false;
    loop {
        let status = svc.raft_node().status();
        crate::metrics::RAFT_STALE.set(i64::from(status.stale));
        crate::metrics::RAFT_TERM.set(i64::try_from(status.term).unwrap_or(i64::MAX));
        crate::metrics::RAFT_IS_LEADER.set(i64::from(status.role == "leader"));
        let dropped = svc.raft_node().state.dropped_from_membership();
        let retired = svc.read(|s| s.retired_nodes.contains(&me));
        if retired || dropped {
            svc.health().mark_removed();
        }
        if svc.health().is_removed() && !announced {
            announced = true;
            svc.raft_node().raft.runtime_config().elect(false);
            tracing::error!(
                node_id = me,
                retired,
                dropped,
                "this node was removed from the cluster: it no longer campaigns or takes writes; \
                 wipe its data directory before reusing the machine under a new node id"
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// On the leader, while the cluster's data format is older than this binary's: asks the
/// members which format they understand and raises the cluster's once all do. Its own
/// task, so that a slow member never delays [`watch`].
pub(crate) async fn raise_format(svc: std::sync::Arc<Service>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let cluster_version = svc.read(|s| s.cluster_version);
        crate::metrics::CLUSTER_FORMAT_VERSION.set(i64::from(cluster_version.0));
        if svc.is_leader() && cluster_version < ClusterVersion(crate::codec::FORMAT_VERSION) {
            raise_cluster_version(&svc, None).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(VERSION_CHECK_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The oldest data format among the members (voters and learners; `members` when given,
/// else the current membership); `None` when a member cannot be asked right now.
async fn members_format(svc: &Service, members: Option<&BTreeMap<NodeId, NodeInfo>>) -> Option<u8> {
    let membership = svc.raft_node().raft.metrics().borrow().membership_config.clone();
    let nodes: Vec<(NodeId, NodeInfo)> = match members {
        Some(m) => m.iter().map(|(id, info)| (*id, info.clone())).collect(),
        None => membership.membership().nodes().map(|(id, info)| (*id, info.clone())).collect(),
    };
    let mut oldest = crate::codec::FORMAT_VERSION;
    for (id, info) in &nodes {
        if *id == svc.node_id() {
            continue;
        }
        match svc.raft_node().client().format_version(&info.raft_addr, STATUS_TIMEOUT).await {
            Ok(v) => oldest = oldest.min(v),
            Err(e) => {
                tracing::debug!(node = id, error = %e, "cannot ask a member for its data format");
                return None;
            }
        }
    }
    Some(oldest)
}

/// On the leader: proposes `SetClusterVersion` with the oldest format every member
/// understands, when that is newer than the cluster's (rolling upgrades: the new format is
/// written only once no member would fail to read it).
async fn raise_cluster_version(svc: &Service, members: Option<&BTreeMap<NodeId, NodeInfo>>) {
    let Some(oldest) = members_format(svc, members).await else { return };
    let current = svc.read(|s| s.cluster_version);
    if ClusterVersion(oldest) <= current {
        return;
    }
    let span = tracing::info_span!("raise_cluster_version", from = current.0, to = oldest);
    let result = svc.submit(Command::SetClusterVersion { version: ClusterVersion(oldest) }).instrument(span).await;
    match result {
        Ok(_) => tracing::info!(from = current.0, to = oldest, "every member understands the new data format: raised"),
        Err(e) => tracing::warn!(error = %e, "could not raise the cluster's data format"),
    }
}
