//! The write path every front end shares (HTTP today; DNS UPDATE later): propose a
//! command through Raft, and answer only once *this* node has applied the entry, so the
//! node that says "done" already serves the change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::config::Secret;
use crate::raft::{RaftNode, Response, WriteError};
use crate::state::{Applied, ApplyError, Command};

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

pub struct Service {
    pub raft: RaftNode,
    pub admin_token: Secret,
    pub write_timeout: Duration,
}

impl Service {
    pub fn new(raft: RaftNode, admin_token: Secret, write_timeout: Duration) -> Arc<Self> {
        Arc::new(Service { raft, admin_token, write_timeout })
    }

    pub async fn submit(&self, command: Command) -> Result<Committed, SubmitError> {
        let kind = command.kind();
        let span = tracing::info_span!("submit", command = kind, log_index = tracing::field::Empty);
        let deadline = Instant::now() + self.write_timeout;
        async move {
            let resp = tokio::time::timeout(self.write_timeout, self.propose(command))
                .await
                .map_err(|_| SubmitError::Unavailable("timed out waiting for commit".into()))??;
            tracing::Span::current().record("log_index", resp.index);
            let left = deadline.saturating_duration_since(Instant::now());
            self.raft
                .wait_applied(resp.index, left)
                .await
                .map_err(|e| SubmitError::Unavailable(format!("not applied locally in time: {e}")))?;
            let applied = resp.result?;
            Ok(Committed { index: resp.index, applied })
        }
        .instrument(span)
        .await
    }

    async fn propose(&self, command: Command) -> Result<Response, SubmitError> {
        match self.raft.write(command).await {
            Ok(resp) => Ok(resp),
            Err(WriteError::ForwardToLeader { leader_id, .. }) => Err(SubmitError::Unavailable(format!(
                "this node is not the leader (leader: {leader_id:?}); forwarding arrives with clustering"
            ))),
            Err(e @ WriteError::Timeout) => Err(SubmitError::Unavailable(e.to_string())),
            Err(e) => Err(SubmitError::Internal(e.to_string())),
        }
    }
}

/// How far (in log entries) the applied index may trail the local log and still be ready.
pub const READY_MAX_APPLY_LAG: u64 = 100;

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
    /// Readiness from Raft's own metrics: running, a leader known, a member, caught up.
    pub fn readiness(&self) -> Readiness {
        let m = self.raft.raft.metrics().borrow().clone();
        let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
        let last = m.last_log_index.unwrap_or(0);
        let member = m.membership_config.membership().get_node(&self.raft.node_id).is_some();
        let checks = vec![
            Check { name: "raft_running", ok: m.running_state.is_ok(), detail: format!("{:?}", m.running_state) },
            Check {
                name: "leader_known",
                ok: m.current_leader.is_some(),
                detail: format!("leader={:?} term={}", m.current_leader, m.current_term),
            },
            Check { name: "member", ok: member, detail: format!("node {} in membership: {member}", self.raft.node_id) },
            Check {
                name: "applied",
                ok: last.saturating_sub(applied) <= READY_MAX_APPLY_LAG,
                detail: format!("applied={applied} last_log={last}"),
            },
        ];
        Readiness { ready: checks.iter().all(|c| c.ok), checks }
    }
}
