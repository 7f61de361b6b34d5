//! What a node knows about its own standing in the cluster, beyond openraft's metrics:
//! when it last heard from a leader (staleness), whether it found out it was removed, and
//! a test-only network switch that cuts it off from its peers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;

use super::types::{NodeId, Raft};

/// `storage_writable` fails when no storage probe (`ops::probe_storage`) succeeded for
/// this long.
pub const PROBE_STALE_AFTER: Duration = Duration::from_secs(30);

/// Cuts a node off from its peers: outgoing RPCs fail as unreachable and incoming RPCs are
/// answered 503 without reaching Raft. Used by in-process partition tests; off otherwise.
#[derive(Clone, Debug, Default)]
pub struct PartitionSwitch(Arc<Switches>);

#[derive(Debug, Default)]
struct Switches {
    isolated: AtomicBool,
    lost_forward_answers: AtomicU64,
    refuse_appends: AtomicBool,
    hold_after_snapshot: AtomicBool,
}

impl PartitionSwitch {
    pub fn isolate(&self, isolated: bool) {
        self.0.isolated.store(isolated, Ordering::SeqCst);
    }
    pub fn is_isolated(&self) -> bool {
        self.0.isolated.load(Ordering::SeqCst)
    }

    /// Test hook: the next `n` forwarded writes this node runs as leader are committed and
    /// applied, but their answer is lost (503), as when a leader dies between the append
    /// and the answer: the forwarding node cannot tell and sends the write again.
    pub fn lose_forward_answers(&self, n: u64) {
        self.0.lost_forward_answers.store(n, Ordering::SeqCst);
    }

    /// Whether this answer is one to lose (counts it).
    pub fn take_lost_answer(&self) -> bool {
        self.0.lost_forward_answers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    /// Test hook: refuse append-entries from the leader (503) while snapshots and votes
    /// still get through, so a joining node stays at the snapshot it installed.
    pub fn refuse_appends(&self, refuse: bool) {
        self.0.refuse_appends.store(refuse, Ordering::SeqCst);
    }

    pub fn refuses_appends(&self) -> bool {
        self.0.refuse_appends.load(Ordering::SeqCst)
    }

    /// Test hook: once this node installed a snapshot, refuse appends (as
    /// [`Self::refuse_appends`]) until told otherwise: it stays at the snapshot.
    pub fn hold_after_snapshot(&self, hold: bool) {
        self.0.hold_after_snapshot.store(hold, Ordering::SeqCst);
    }

    /// Called when a snapshot from the leader was installed.
    pub fn snapshot_installed(&self) {
        if self.0.hold_after_snapshot.load(Ordering::SeqCst) {
            self.refuse_appends(true);
        }
    }
}

const NEVER: u64 = u64::MAX;

#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Milliseconds after `started` of the last append-entries/snapshot accepted from a leader.
    last_leader_contact_ms: AtomicU64,
    removed: AtomicBool,
    /// Milliseconds after `started` of the last successful storage probe (see `ops`).
    storage_ok_ms: AtomicU64,
    storage_failed: AtomicBool,
    shutting_down: AtomicBool,
    /// A node is stale when it has not heard from a leader (or, as leader, from a quorum)
    /// for this long.
    pub stale_after: Duration,
    pub partition: PartitionSwitch,
}

impl Health {
    pub fn new(stale_after: Duration, partition: PartitionSwitch) -> Self {
        Health {
            started: Instant::now(),
            last_leader_contact_ms: AtomicU64::new(NEVER),
            removed: AtomicBool::new(false),
            storage_ok_ms: AtomicU64::new(NEVER),
            storage_failed: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            stale_after,
            partition,
        }
    }

    /// Called by the RPC server when a leader's append-entries or snapshot was accepted.
    pub fn leader_contact(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NEVER - 1);
        self.last_leader_contact_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last contact from a leader; `None` if never.
    pub fn since_leader_contact(&self) -> Option<Duration> {
        match self.last_leader_contact_ms.load(Ordering::Relaxed) {
            NEVER => None,
            ms => Some(self.started.elapsed().saturating_sub(Duration::from_millis(ms))),
        }
    }

    /// Records that this node is no longer a member. Returns true the first time.
    pub fn mark_removed(&self) -> bool {
        !self.removed.swap(true, Ordering::SeqCst)
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }

    /// Records the outcome of a storage probe (a tiny write + flush).
    pub fn storage_probed(&self, ok: bool) {
        if ok {
            let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NEVER - 1);
            self.storage_ok_ms.store(ms, Ordering::Relaxed);
        }
        self.storage_failed.store(!ok, Ordering::Relaxed);
    }

    /// Whether the last probe failed, and the time since the last one that succeeded.
    pub fn storage_status(&self) -> (bool, Option<Duration>) {
        let since = match self.storage_ok_ms.load(Ordering::Relaxed) {
            NEVER => None,
            ms => Some(self.started.elapsed().saturating_sub(Duration::from_millis(ms))),
        };
        (self.storage_failed.load(Ordering::Relaxed), since)
    }

    /// Set on SIGTERM: the node drains and stops taking updates.
    pub fn mark_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// One node's own view, as served by `/raft/status` and shown by `cluster status`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    pub id: NodeId,
    /// leader, follower, learner, candidate, shutdown.
    pub role: String,
    pub term: u64,
    pub last_log_index: u64,
    pub applied_index: u64,
    pub leader: Option<NodeId>,
    pub stale: bool,
    pub removed: bool,
    /// Milliseconds since the last leader contact (follower) or quorum ack (leader).
    pub millis_since_contact: Option<u64>,
}

/// This node's status from openraft's metrics and [`Health`].
pub fn local_status(raft: &Raft, health: &Health) -> NodeStatus {
    let m = raft.metrics().borrow().clone();
    let since = match m.state {
        ServerState::Leader => {
            // A single voter acknowledges itself; openraft then reports no quorum ack time.
            let alone = m.membership_config.membership().voter_ids().count() <= 1;
            if alone {
                Some(0)
            } else {
                m.millis_since_quorum_ack
            }
        }
        _ => health.since_leader_contact().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let stale_ms = u64::try_from(health.stale_after.as_millis()).unwrap_or(u64::MAX);
    let stale = health.is_removed() || m.current_leader.is_none() || since.is_none_or(|s| s > stale_ms);
    let role = match m.state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Learner => "learner",
        ServerState::Candidate => "candidate",
        ServerState::Shutdown => "shutdown",
    };
    NodeStatus {
        id: m.id,
        role: role.to_string(),
        term: m.current_term,
        last_log_index: m.last_log_index.unwrap_or(0),
        applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
        leader: m.current_leader,
        stale,
        removed: health.is_removed(),
        millis_since_contact: since,
    }
}
