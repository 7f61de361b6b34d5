//! Exactly-once application of client requests (Raft dissertation §6.3): the request id
//! and the rules; the table itself (`Sessions`) is part of the state (`machine.rs`).
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

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
