//! Exactly-once application of client requests (Raft dissertation §6.3).
//!
//! Every write gets a [`RequestId`] once, where it enters the cluster (`Service::submit`),
//! and keeps it across forwarding, leader changes and retries: it travels in
//! `Command::WithId` together with the proposer's time and its deadline. The replicated
//! [`Sessions`] table remembers the outcome of every recently applied id; a command whose id
//! was applied already changes nothing and answers the recorded outcome. So a write that a
//! dying leader appended, and its proposer sent again to the next leader, is applied once.
//!
//! Eviction is deterministic: by the log's clock (the latest proposer time of any applied
//! request, carried in the commands, never a node's clock), an id is forgotten once its
//! deadline is [`RETAIN_AFTER_DEADLINE_MS`] behind that clock. A request that arrives even
//! later is refused as expired ([`super::ApplyError::RequestExpired`]): its proposer gave
//! up long ago, so refusing it is safe, and it is what makes forgetting safe.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::command::ApplyError;
use super::machine::Applied;

/// How long after its deadline an applied id is remembered (by the log's clock). Covers
/// the clock difference between proposers; a request later than that is refused.
pub const RETAIN_AFTER_DEADLINE_MS: u64 = 15_000;

/// A request's identity: a per-process random nonce (high 64 bits) and a sequence number.
/// Format 2 (`codec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u128);

impl RequestId {
    /// The next id of this process.
    pub fn next() -> RequestId {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::LazyLock;
        static NONCE: LazyLock<u64> = LazyLock::new(rand::random);
        static SEQ: AtomicU64 = AtomicU64::new(1);
        RequestId((u128::from(*NONCE) << 64) | u128::from(SEQ.fetch_add(1, Ordering::Relaxed)))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::codec::require_format(2);
        s.serialize_u128(self.0)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u128::deserialize(d).map(RequestId)
    }
}

/// The data format version the whole cluster has agreed to write (`codec`): raised by
/// `Command::SetClusterVersion` once every member understands it, never lowered. A
/// cluster of the first release is at 1. Format 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterVersion(pub u8);

impl Default for ClusterVersion {
    fn default() -> Self {
        ClusterVersion(1)
    }
}

impl Serialize for ClusterVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::codec::require_format(2);
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for ClusterVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u8::deserialize(d).map(ClusterVersion)
    }
}

/// What was answered for one applied request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRequest {
    /// The log index of the entry that applied it.
    pub index: u64,
    pub deadline: u64,
    pub outcome: Result<Applied, ApplyError>,
}

/// The recently applied request ids, replicated (part of `State` and its snapshots).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    /// The log's clock: the latest proposer time (unix ms) of any applied request.
    pub clock: u64,
    pub applied: BTreeMap<RequestId, AppliedRequest>,
    /// (deadline, id) of `applied`, for eviction in deadline order.
    pub by_deadline: BTreeSet<(u64, RequestId)>,
}

/// Whether a request was seen before.
pub(super) enum Seen {
    /// Applied already: answer this again.
    Applied(Result<Applied, ApplyError>),
    /// Too late to tell (its deadline is far behind the log's clock): refuse it.
    Expired,
    New,
}

impl Sessions {
    pub fn is_empty(&self) -> bool {
        *self == Sessions::default()
    }

    /// Advances the clock to `at` and forgets the ids whose time is up.
    pub(super) fn tick(&mut self, at: u64) {
        self.clock = self.clock.max(at);
        while let Some(&(deadline, id)) = self.by_deadline.first() {
            if deadline.saturating_add(RETAIN_AFTER_DEADLINE_MS) >= self.clock {
                break;
            }
            self.by_deadline.pop_first();
            self.applied.remove(&id);
        }
    }

    pub(super) fn seen(&self, id: RequestId, deadline: u64) -> Seen {
        match self.applied.get(&id) {
            Some(a) => Seen::Applied(a.outcome.clone()),
            None if deadline.saturating_add(RETAIN_AFTER_DEADLINE_MS) < self.clock => Seen::Expired,
            None => Seen::New,
        }
    }

    pub(super) fn record(&mut self, id: RequestId, index: u64, deadline: u64, outcome: Result<Applied, ApplyError>) {
        if let Some(old) = self.applied.insert(id, AppliedRequest { index, deadline, outcome }) {
            self.by_deadline.remove(&(old.deadline, id));
        }
        self.by_deadline.insert((deadline, id));
    }
}
