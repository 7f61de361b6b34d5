//! Work that only the leader can do (writes, read indexes, membership changes), as run on
//! the leader, plus the wire types the internal RPC carries for it. [`RaftNode`] sends the
//! same requests to the leader when it is not the leader itself.
//!
//! [`RaftNode`]: super::RaftNode

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError as OpenRaftError};
use openraft::ChangeMembers;

use super::state_machine::StateHandle;
use super::types::{NodeId, NodeInfo, Raft, Request, Response};

/// Why the leader (or who we thought was the leader) did not do the work.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub enum Refusal {
    /// Not the leader; the hint says who is, when known.
    #[error("not the leader (leader: {leader_id:?})")]
    NotLeader { leader_id: Option<NodeId>, leader: Option<NodeInfo> },
    /// No quorum answered, or the work did not finish in time. It may still commit.
    #[error("no quorum in time: {0}")]
    NoQuorum(String),
    #[error("raft failed: {0}")]
    Fatal(String),
}

impl From<ForwardToLeader<NodeId, NodeInfo>> for Refusal {
    fn from(f: ForwardToLeader<NodeId, NodeInfo>) -> Self {
        Refusal::NotLeader { leader_id: f.leader_id, leader: f.leader_node }
    }
}

/// A membership operation, run on the leader.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MembershipChange {
    /// Add a learner and wait (up to `wait_ms`) until it has caught up with the log.
    AddLearner { id: NodeId, info: NodeInfo, wait_ms: u64 },
    /// Make a learner a voter.
    Promote { id: NodeId },
    /// Remove a voter or learner (the leader included: it steps down once it is committed).
    Remove { id: NodeId },
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MembershipOutcome {
    /// Log index of the membership entry.
    pub index: u64,
    /// For `AddLearner`: whether the learner caught up within the wait.
    pub caught_up: bool,
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub enum MembershipError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("node {0} is already a member of the cluster")]
    DuplicateId(NodeId),
    #[error("raft address {addr} is already used by node {id}")]
    DuplicateAddress { addr: String, id: NodeId },
    #[error("node id {0} was removed from this cluster and is never reused; pick a new id")]
    RetiredId(NodeId),
    #[error("node {0} is not a member of the cluster")]
    UnknownId(NodeId),
    #[error("node {0} is already a voter")]
    AlreadyVoter(NodeId),
    #[error("node {0} is the last voter; the cluster cannot be left without voters")]
    LastVoter(NodeId),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("membership change failed: {0}")]
    Failed(String),
}

fn write_refusal(e: OpenRaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>) -> Refusal {
    match e {
        OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => f.into(),
        OpenRaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => Refusal::Fatal(c.to_string()),
        OpenRaftError::Fatal(f) => Refusal::Fatal(f.to_string()),
    }
}

/// `client_write` on this node, bounded: a leader that lost its quorum never returns.
pub async fn leader_write(raft: &Raft, req: Request, limit: Duration) -> Result<Response, Refusal> {
    match tokio::time::timeout(limit, raft.client_write(req)).await {
        Err(_) => Err(Refusal::NoQuorum(format!("not committed within {limit:?}"))),
        Ok(Ok(resp)) => Ok(resp.data),
        Ok(Err(e)) => Err(write_refusal(e)),
    }
}

/// The index a linearizable read must wait for, confirmed with a quorum (leader only).
pub async fn leader_read_index(raft: &Raft) -> Result<u64, Refusal> {
    match raft.get_read_log_id().await {
        Ok((read, _applied)) => Ok(read.map(|l| l.index).unwrap_or(0)),
        Err(OpenRaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => Err(f.into()),
        Err(OpenRaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q))) => Err(Refusal::NoQuorum(q.to_string())),
        Err(OpenRaftError::Fatal(f)) => Err(Refusal::Fatal(f.to_string())),
    }
}

/// `None` when this node leads; otherwise the refusal naming the leader, when known.
pub(super) fn not_leader(raft: &Raft) -> Option<Refusal> {
    let m = raft.metrics().borrow().clone();
    if m.current_leader == Some(m.id) {
        return None;
    }
    let leader = m.current_leader.and_then(|l| m.membership_config.membership().get_node(&l).cloned());
    Some(Refusal::NotLeader { leader_id: m.current_leader, leader })
}

/// Checks the request against the current membership and the retired ids, then changes
/// the membership. Runs on the leader.
pub async fn leader_change(
    raft: &Raft,
    state: &StateHandle,
    change: MembershipChange,
    limit: Duration,
) -> Result<MembershipOutcome, MembershipError> {
    if let Some(refusal) = not_leader(raft) {
        return Err(refusal.into());
    }
    let stored = raft.metrics().borrow().membership_config.clone();
    let membership = stored.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let is_member = |id: &NodeId| membership.get_node(id).is_some();
    let (changes, retain, wait) = match &change {
        MembershipChange::AddLearner { id, info, wait_ms } => {
            if *id == 0 {
                return Err(MembershipError::Invalid("node ids start at 1".into()));
            }
            if info.raft_addr.trim().is_empty() || info.http_addr.trim().is_empty() {
                return Err(MembershipError::Invalid("raft_addr and http_addr are required".into()));
            }
            if state.read(|s| s.retired_nodes.contains(id)) {
                return Err(MembershipError::RetiredId(*id));
            }
            if is_member(id) {
                return Err(MembershipError::DuplicateId(*id));
            }
            if let Some((other, _)) = membership.nodes().find(|(_, n)| n.raft_addr == info.raft_addr) {
                return Err(MembershipError::DuplicateAddress { addr: info.raft_addr.clone(), id: *other });
            }
            (ChangeMembers::AddNodes(BTreeMap::from([(*id, info.clone())])), true, Some((*id, *wait_ms)))
        }
        MembershipChange::Promote { id } => {
            if !is_member(id) {
                return Err(MembershipError::UnknownId(*id));
            }
            if voters.contains(id) {
                return Err(MembershipError::AlreadyVoter(*id));
            }
            (ChangeMembers::AddVoterIds(BTreeSet::from([*id])), true, None)
        }
        MembershipChange::Remove { id } => {
            if !is_member(id) {
                return Err(MembershipError::UnknownId(*id));
            }
            if voters.contains(id) {
                if voters.len() == 1 {
                    return Err(MembershipError::LastVoter(*id));
                }
                (ChangeMembers::RemoveVoters(BTreeSet::from([*id])), false, None)
            } else {
                (ChangeMembers::RemoveNodes(BTreeSet::from([*id])), false, None)
            }
        }
    };
    let changed = tokio::time::timeout(limit, raft.change_membership(changes, retain)).await;
    let resp = match changed {
        Err(_) => return Err(Refusal::NoQuorum(format!("membership not committed within {limit:?}")).into()),
        Ok(Err(OpenRaftError::APIError(ClientWriteError::ChangeMembershipError(c)))) => {
            return Err(MembershipError::Failed(c.to_string()))
        }
        Ok(Err(e)) => return Err(write_refusal(e).into()),
        Ok(Ok(resp)) => resp,
    };
    let index = resp.log_id.index;
    let mut caught_up = true;
    if let Some((id, wait_ms)) = wait {
        let matched = |m: &openraft::RaftMetrics<NodeId, NodeInfo>| {
            m.replication.as_ref().and_then(|r| r.get(&id).cloned().flatten()).is_some_and(|l| l.index >= index)
        };
        let waited = raft.wait(Some(Duration::from_millis(wait_ms))).metrics(matched, "learner caught up").await;
        caught_up = waited.is_ok();
    }
    let m = raft.metrics().borrow().membership_config.clone();
    Ok(MembershipOutcome {
        index,
        caught_up,
        voters: m.membership().voter_ids().collect(),
        learners: m.membership().learner_ids().collect(),
    })
}
