//! Seeding a fresh data directory from a backup (`quorumdns restore`): the backed-up state
//! becomes the node's Raft snapshot, as if the node had built it and purged its log, with
//! a one-member membership of the new node. On its first start the node restores the
//! state from that snapshot, elects itself and continues the log after it; more members
//! join as usual (`cluster add`) and receive the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use openraft::{CommittedLeaderId, Membership};

use super::log_store::{KEY_COMMITTED, KEY_LAST_PURGED, KEY_VOTE};
use super::state_machine::{SnapshotPayload, KEY_DATA, KEY_META};
use super::types::{LogId, NodeId, NodeInfo, SnapshotMeta, StoredMembership};
use crate::codec;
use crate::state::State;
use crate::store::{trees, Batch, SledStore, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("cannot create {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0} already holds Raft data: restore only into a fresh data directory")]
    NotFresh(String),
    #[error("node id {0} is not valid (ids start at 1)")]
    BadId(NodeId),
}

/// The Raft directory of a node's data directory (what `node::start` opens).
pub fn raft_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("raft")
}

/// Writes `state` as the snapshot at log `index` of a one-member cluster made of
/// `node_id`/`info` into the (fresh) `data_dir`. Returns the snapshot's log id.
pub async fn seed(
    data_dir: &Path,
    node_id: NodeId,
    info: NodeInfo,
    state: &State,
    index: u64,
) -> Result<LogId, SeedError> {
    if node_id == 0 {
        return Err(SeedError::BadId(node_id));
    }
    let dir = raft_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| SeedError::Io(dir.display().to_string(), e))?;
    let store = SledStore::open(&dir.join("db"))?;
    let log = store.open_tree(trees::RAFT_LOG)?;
    let meta_tree = store.open_tree(trees::RAFT_META)?;
    let snapshots = store.open_tree(trees::RAFT_SNAPSHOT)?;
    let fresh = log.last_in((std::ops::Bound::Unbounded, std::ops::Bound::Unbounded))?.is_none()
        && meta_tree.get(KEY_VOTE)?.is_none()
        && meta_tree.get(KEY_LAST_PURGED)?.is_none()
        && snapshots.get(KEY_META)?.is_none();
    if !fresh {
        return Err(SeedError::NotFresh(data_dir.display().to_string()));
    }
    // Term 1 led by the new node: its first election (term 1, itself) matches it.
    let log_id = LogId::new(CommittedLeaderId::new(1, node_id), index.max(1));
    let membership = Membership::new(vec![BTreeSet::from([node_id])], BTreeMap::from([(node_id, info)]));
    let stored = StoredMembership::new(Some(log_id), membership);
    let payload: SnapshotPayload = (state.clone(), Some(log_id), stored.clone());
    let data = codec::encode(&payload).map_err(StoreError::from)?;
    let meta = SnapshotMeta {
        last_log_id: Some(log_id),
        last_membership: stored,
        snapshot_id: format!("restored-{}", log_id.index),
    };
    let mut batch = Batch::default();
    batch.put_encoded(KEY_META, &meta)?;
    batch.put(KEY_DATA, data);
    snapshots.apply(batch)?;
    meta_tree.put_encoded(KEY_LAST_PURGED, &log_id)?;
    meta_tree.put_encoded(KEY_COMMITTED, &Some(log_id))?;
    store.flush("restore").await?;
    Ok(log_id)
}
