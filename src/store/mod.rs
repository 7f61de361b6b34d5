//! Storage behind a small trait, so the Raft log store and the state machine never name
//! the engine. Today the only engine is sled 0.34 ([`SledStore`]); another one only has
//! to implement [`Store`] and [`Tree`].
//!
//! # Key layout
//!
//! One database per node, one tree per concern:
//!
//! | tree            | key                         | value (always `codec::encode`d)          |
//! | --------------- | --------------------------- | ---------------------------------------- |
//! | `raft_log`      | log index as big-endian u64 | `openraft::Entry<TypeConfig>`            |
//! | `raft_meta`     | `vote`                      | `Vote<NodeId>`                           |
//! |                 | `committed`                 | `Option<LogId<NodeId>>`                  |
//! |                 | `last_purged`               | `LogId<NodeId>`                          |
//! | `raft_snapshot` | `meta`                      | `SnapshotMeta<NodeId, NodeInfo>`         |
//! |                 | `data`                      | the snapshot bytes (already encoded)     |
//!
//! Big-endian index keys sort in log order, so range scans walk the log forward or backward.
//!
//! # Durability
//!
//! Writes land in the engine's memory first; only [`Store::flush`] makes them durable. The
//! Raft log store calls it before reporting an append or a vote as durable. sled 0.34.7's
//! `flush_async` can deadlock, so [`SledStore`] runs the blocking `Db::flush` on
//! `spawn_blocking`.

mod sled_store;

use std::ops::Bound;
use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

use crate::codec::{self, CodecError};

pub(crate) use sled_store::SledStore;

/// Names of the trees, in one place (see the key layout above).
pub(crate) mod trees {
    pub(crate) const RAFT_LOG: &str = "raft_log";
    pub(crate) const RAFT_META: &str = "raft_meta";
    pub(crate) const RAFT_SNAPSHOT: &str = "raft_snapshot";
    /// One key rewritten by the storage probe (`ops::observe`); nothing reads it.
    pub(crate) const HEALTH: &str = "health";
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(String),
    #[error("stored record: {0}")]
    Codec(#[from] CodecError),
    #[error("flush task failed: {0}")]
    Join(String),
}

/// A range of keys, as owned bounds (so it can cross the trait object boundary).
pub(crate) type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// One key/value pair.
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// Key/value pairs of a range scan; iterate forward or call `next_back` for the end.
pub(crate) type KvIter<'a> = Box<dyn DoubleEndedIterator<Item = Result<KeyValue, StoreError>> + Send + 'a>;

/// A database: a set of named trees that are flushed together.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError>;

    /// Makes every write done so far durable. `what` labels the flush latency metric.
    async fn flush(&self, what: &'static str) -> Result<(), StoreError>;
}

/// An ordered key/value map.
pub trait Tree: Send + Sync + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn remove(&self, key: &[u8]) -> Result<(), StoreError>;
    /// Keys in `range`, in key order (reverse with `.rev()`).
    fn range(&self, range: KeyRange) -> KvIter<'_>;
    /// Applies every operation of `batch` atomically: all or none.
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;

    /// The last (greatest) key/value pair in `range`.
    fn last_in(&self, range: KeyRange) -> Result<Option<KeyValue>, StoreError> {
        self.range(range).next_back().transpose()
    }
}

impl dyn Tree {
    /// Reads and decodes one record.
    pub fn get_decoded<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.get(key)? {
            Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Encodes and writes one record.
    pub fn put_encoded<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), StoreError> {
        self.put(key, &codec::encode(value)?)
    }
}

/// Writes collected to be applied atomically by [`Tree::apply`].
#[derive(Debug, Default)]
pub struct Batch {
    /// `(key, Some(value))` puts, `(key, None)` removes, in order.
    pub ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.ops.push((key.into(), Some(value)));
    }

    pub fn put_encoded<T: Serialize>(&mut self, key: impl Into<Vec<u8>>, value: &T) -> Result<(), StoreError> {
        self.put(key, codec::encode(value)?);
        Ok(())
    }

    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The key of log entry `index` in the log tree.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The inverse of [`index_key`].
pub(crate) fn key_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// Maps a range of log indexes to a range of log-tree keys.
pub(crate) fn index_range(start: Bound<&u64>, end: Bound<&u64>) -> KeyRange {
    let map = |b: Bound<&u64>| match b {
        Bound::Included(i) => Bound::Included(index_key(*i).to_vec()),
        Bound::Excluded(i) => Bound::Excluded(index_key(*i).to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (map(start), map(end))
}

#[cfg(test)]
mod tests;
