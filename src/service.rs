//! The write path every front end shares (HTTP today; DNS UPDATE later): propose a
//! command through Raft, and answer only once *this* node has applied the entry, so the
//! node that says "done" already serves the change.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::model::Fqdn;
use crate::raft::{ForwardError, Health, NodeId, NodeInfo, NodeStatus, RaftNode, Refusal, Request, WriteError};
use crate::secret::Secret;
use crate::state::{Applied, ApplyError, ClusterVersion, Command, RequestId, State};

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The command was applied and refused by the state machine: a client error.
    #[error(transparent)]
    Refused(#[from] ApplyError),
    /// No leader or no quorum within the deadline: the client should retry later. The
    /// command may still be committed later (the outcome is unknown to the client).
    #[error("the cluster could not commit the change in time: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A committed and locally applied change.
#[derive(Debug, Clone)]
pub struct Committed {
    pub index: u64,
    pub applied: Applied,
}

/// The write and read paths every front end shares. Its fields are private: front ends
/// read the local replica through [`Service::read`] and write through [`Service::submit`];
/// the modules that manage Raft itself (`cluster`, `ops`, `node`) reach it through
/// [`Service::raft_node`].
pub struct Service {
    raft: RaftNode,
    admin_token: Secret,
    write_timeout: Duration,
    /// This node's own addresses (what `cluster init` registers).
    self_info: NodeInfo,
    /// The commands that create the configured zones (`[[zone]]`), proposed by whichever
    /// node initializes the cluster.
    initial_zones: Vec<(Fqdn, Command)>,
}

/// The deadline of bulk writes (zone imports, the configured zones a cluster starts with):
/// a big zone takes seconds to replicate and apply, far longer than an update's deadline
/// (`cluster.write_timeout_ms`). Under the 60 s limit every HTTP request has.
pub(crate) const BULK_WRITE_TIMEOUT: Duration = Duration::from_secs(55);

/// Pause between attempts while no leader is known or it is unreachable.
const RETRY_MIN: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_millis(250);

impl Service {
    pub fn new(
        raft: RaftNode,
        admin_token: Secret,
        write_timeout: Duration,
        self_info: NodeInfo,
        initial_zones: Vec<(Fqdn, Command)>,
    ) -> Arc<Self> {
        Arc::new(Service { raft, admin_token, write_timeout, self_info, initial_zones })
    }

    /// Reads this node's replica of the state (what it serves; not linearizable: see
    /// [`Self::linearize`]).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.raft.state.read(f)
    }

    pub fn node_id(&self) -> NodeId {
        self.raft.node_id
    }

    /// This node's addresses.
    pub fn self_info(&self) -> &NodeInfo {
        &self.self_info
    }

    /// The deadline of an ordinary write (`cluster.write_timeout_ms`).
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// Whether `token` is the admin token (constant time).
    pub fn is_admin_token(&self, token: &[u8]) -> bool {
        self.admin_token.matches(token)
    }

    /// The leader this node knows of, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.raft.node_id)
    }

    /// The last log index this node applied.
    pub fn applied_index(&self) -> u64 {
        *self.raft.applied.borrow()
    }

    /// This node's Raft status (role, term, log, lag).
    pub fn status(&self) -> NodeStatus {
        self.raft.status()
    }

    /// Liveness facts (removed, shutting down, storage probes).
    pub fn health(&self) -> &Health {
        &self.raft.health
    }

    /// The configured zones' create commands.
    pub fn initial_zones(&self) -> &[(Fqdn, Command)] {
        &self.initial_zones
    }

    /// The Raft node itself, for the modules that manage Raft (membership, backups,
    /// metrics, start and stop); front ends use the methods above.
    pub fn raft_node(&self) -> &RaftNode {
        &self.raft
    }

    /// Proposes `command` through the leader (this node or, forwarded, another) and returns
    /// once this node has applied it.
    pub async fn submit(&self, command: Command) -> Result<Committed, SubmitError> {
        self.submit_within(command, self.write_timeout).await
    }

    /// [`Self::submit`] with its own deadline (zone imports, which take longer).
    pub async fn submit_within(&self, command: Command, timeout: Duration) -> Result<Committed, SubmitError> {
        self.check_format(&command)?;
        let kind = command.kind();
        let span = tracing::info_span!("submit", command = kind, log_index = tracing::field::Empty);
        let deadline = Instant::now() + timeout;
        async move {
            let req = Request { command: self.identify(command, timeout) };
            let resp = self
                .on_leader(
                    deadline,
                    |left| {
                        let command = req.command.clone();
                        async move {
                            match tokio::time::timeout(left, self.raft.write_within(command, left)).await {
                                Err(_) => Err(Refusal::NoQuorum("timed out waiting for commit".into())),
                                Ok(Ok(resp)) => Ok(resp),
                                Ok(Err(WriteError::ForwardToLeader { leader_id, leader })) => {
                                    Err(Refusal::NotLeader { leader_id, leader })
                                }
                                Ok(Err(WriteError::Timeout)) => Err(Refusal::NoQuorum("timed out".into())),
                                Ok(Err(WriteError::Fatal(m))) => Err(Refusal::Fatal(m)),
                            }
                        }
                    },
                    |leader, left| {
                        let req = req.clone();
                        async move { self.raft.client().forward_within(&leader, &req, left).await }
                    },
                )
                .await?;
            tracing::Span::current().record("log_index", resp.index);
            tracing::debug!(log_index = resp.index, "committed; waiting for this node to apply it");
            self.wait_local(resp.index, deadline).await?;
            // A copy that arrived after its id was forgotten: its outcome is unknown, the
            // client retries (a temporary condition, never a refusal of its request).
            if let Err(ApplyError::RequestExpired(id)) = &resp.result {
                return Err(SubmitError::Unavailable(format!("request {id} expired before it was applied; retry")));
            }
            let applied = resp.result?;
            Ok(Committed { index: resp.index, applied })
        }
        .instrument(span)
        .await
    }

    /// Refuses a command that needs a newer data format than the cluster's (a name beyond
    /// the classic syntax before every member understands format 3): a member of the
    /// previous release could not read its log entry (docs/compatibility.md).
    fn check_format(&self, command: &Command) -> Result<(), SubmitError> {
        let cluster = self.read(|s| s.cluster_version);
        if cluster.0 >= crate::codec::FORMAT_VERSION || matches!(command, Command::SetClusterVersion { .. }) {
            return Ok(());
        }
        let needed = crate::codec::format_of(command).map_err(|e| SubmitError::Internal(e.to_string()))?;
        if needed <= cluster.0 {
            return Ok(());
        }
        Err(SubmitError::Refused(ApplyError::InvalidData(format!(
            "this change needs data format {needed} (names with escapes or other octets than letters, digits, \
             '-' and '_'); the cluster writes format {} until every member runs a release that reads it",
            cluster.0
        ))))
    }

    /// The command as proposed: with a request id once the whole cluster understands ids
    /// (cluster version 2), so that however often it is forwarded or retried, it is applied
    /// once (`state::session`). The id is assigned here, once, where the request enters.
    fn identify(&self, command: Command, timeout: Duration) -> Command {
        if self.read(|s| s.cluster_version) < ClusterVersion(2) {
            return command;
        }
        let at = crate::clock::unix_ms();
        let deadline = at.saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        Command::WithId { id: RequestId::next(), at, deadline, command: Box::new(command) }
    }

    /// A linearizable read barrier: returns once this node has applied everything the
    /// leader had committed when the barrier was asked (confirmed with a quorum).
    pub async fn linearize(&self) -> Result<u64, SubmitError> {
        let deadline = Instant::now() + self.write_timeout;
        let index = self
            .on_leader(
                deadline,
                |left| async move {
                    match tokio::time::timeout(left, crate::raft::membership::leader_read_index(&self.raft.raft)).await
                    {
                        Err(_) => Err(Refusal::NoQuorum("read index timed out".into())),
                        Ok(r) => r,
                    }
                },
                |leader, left| async move { self.raft.client().read_index(&leader, left).await },
            )
            .await?;
        self.wait_local(index, deadline).await?;
        Ok(index)
    }

    async fn wait_local(&self, index: u64, deadline: Instant) -> Result<(), SubmitError> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.raft
            .wait_applied(index, left)
            .await
            .map(|_| ())
            .map_err(|e| SubmitError::Unavailable(format!("index {index} not applied on this node in time: {e}")))
    }

    /// Runs `local` here; when this node is not the leader, runs `remote` against the
    /// leader it names, following leader changes until `deadline`.
    pub(crate) async fn on_leader<T, L, LF, R, RF>(
        &self,
        deadline: Instant,
        mut local: L,
        mut remote: R,
    ) -> Result<T, SubmitError>
    where
        L: FnMut(Duration) -> LF,
        LF: Future<Output = Result<T, Refusal>>,
        R: FnMut(NodeInfo, Duration) -> RF,
        RF: Future<Output = Result<T, ForwardError>>,
    {
        let mut pause = RETRY_MIN;
        let mut hint: Option<(NodeId, NodeInfo)> = None;
        let mut last_problem = String::from("no leader known");
        loop {
            if self.raft.health.is_removed() {
                return Err(SubmitError::Unavailable("this node was removed from the cluster".into()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SubmitError::Unavailable(format!(
                    "no leader with a quorum within {:?}: {last_problem}",
                    self.write_timeout
                )));
            }
            let outcome = match hint.take() {
                Some((id, leader)) if id != self.raft.node_id => {
                    let answer = remote(leader, left).await;
                    let result = if answer.is_ok() { "ok" } else { "error" };
                    crate::metrics::RAFT_FORWARDED_TOTAL.with_label_values(&[result]).inc();
                    match answer {
                        Ok(v) => Ok(v),
                        Err(ForwardError::Remote(r)) => Err(r),
                        Err(ForwardError::Transport(e)) => {
                            Err(Refusal::NoQuorum(format!("leader {id} unreachable: {e}")))
                        }
                    }
                }
                _ => local(left).await,
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err(Refusal::NotLeader { leader_id: Some(id), leader: Some(info) }) if id != self.raft.node_id => {
                    last_problem = format!("leader is node {id}");
                    hint = Some((id, info));
                    continue;
                }
                Err(Refusal::Fatal(m)) if self.raft.raft.metrics().borrow().running_state.is_err() => {
                    return Err(SubmitError::Internal(m));
                }
                Err(r) => last_problem = r.to_string(),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }
}

/// How far (in log entries) the applied index may trail the local log and still be ready.
pub(crate) const READY_MAX_APPLY_LAG: u64 = 100;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl Service {
    /// Readiness from Raft's own metrics: running, a leader known, a member, caught up,
    /// in recent contact with the leader (or, as leader, with a quorum).
    pub fn readiness(&self) -> Readiness {
        let m = self.raft.raft.metrics().borrow().clone();
        let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
        let last = m.last_log_index.unwrap_or(0);
        let removed = self.raft.health.is_removed();
        let member = !removed && m.membership_config.membership().get_node(&self.raft.node_id).is_some();
        let status = self.raft.status();
        crate::metrics::RAFT_STALE.set(i64::from(status.stale));
        let checks = vec![
            Check { name: "raft_running", ok: m.running_state.is_ok(), detail: format!("{:?}", m.running_state) },
            Check {
                name: "leader_known",
                ok: m.current_leader.is_some(),
                detail: format!("leader={:?} term={}", m.current_leader, m.current_term),
            },
            Check {
                name: "member",
                ok: member,
                detail: if removed {
                    format!("node {} was removed from the cluster", self.raft.node_id)
                } else {
                    format!("node {} in membership: {member}", self.raft.node_id)
                },
            },
            Check {
                name: "fresh",
                ok: !status.stale,
                detail: format!(
                    "ms since leader contact/quorum ack: {:?} (stale after {} ms)",
                    status.millis_since_contact,
                    self.raft.health.stale_after.as_millis()
                ),
            },
            Check {
                name: "applied",
                ok: last.saturating_sub(applied) <= READY_MAX_APPLY_LAG,
                detail: format!("applied={applied} last_log={last}"),
            },
            storage_check(&self.raft.health),
            Check {
                name: "not_shutting_down",
                ok: !self.raft.health.is_shutting_down(),
                detail: if self.raft.health.is_shutting_down() {
                    "draining after SIGTERM".into()
                } else {
                    "serving".into()
                },
            },
        ];
        Readiness { ready: checks.iter().all(|c| c.ok), checks }
    }
}

/// `storage_writable`: the last storage probe (a tiny write + flush, `ops::probe_storage`)
/// succeeded, recently.
fn storage_check(health: &Health) -> Check {
    let (failed, since_ok) = health.storage_status();
    let limit = crate::raft::health::PROBE_STALE_AFTER;
    let ok = !failed && since_ok.is_some_and(|d| d <= limit);
    let detail = match since_ok {
        Some(d) => format!(
            "last probe failed: {failed}; last success {} ms ago (limit {} ms)",
            d.as_millis(),
            limit.as_millis()
        ),
        None => format!("last probe failed: {failed}; no successful probe yet"),
    };
    Check { name: "storage_writable", ok, detail }
}
