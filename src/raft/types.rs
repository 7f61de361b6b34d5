//! The openraft type configuration: what a log entry carries and what apply answers.

use std::io::Cursor;

pub type NodeId = u64;

/// How to reach a member: the internal Raft RPC address, the public HTTP and DNS addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeInfo {
    pub raft_addr: String,
    pub http_addr: String,
    pub dns_addr: String,
}

impl std::fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "raft={} http={} dns={}", self.raft_addr, self.http_addr, self.dns_addr)
    }
}

/// The application payload of a normal log entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub command: crate::state::Command,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.command.kind())
    }
}

/// What the state machine answered for one entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    /// The log index of the entry.
    pub index: u64,
    pub result: Result<crate::state::Applied, crate::state::ApplyError>,
    /// For a `Command::Group` entry: the result of each of its commands, in order.
    pub group: Vec<Result<crate::state::Applied, crate::state::ApplyError>>,
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = NodeInfo,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, NodeInfo>;
pub type StoredMembership = openraft::StoredMembership<NodeId, NodeInfo>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type RaftMetricsOf = openraft::RaftMetrics<NodeId, NodeInfo>;
