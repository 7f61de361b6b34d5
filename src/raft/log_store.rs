//! The Raft log and the Raft metadata (vote, committed, last purged) on the [`Store`] trait.
//!
//! Durability contract with openraft (storage-v2): an append is reported through
//! `LogFlushed::log_io_completed` only after [`Store::flush`] returned, and `save_vote`
//! returns only after its flush. One flush covers a whole `append` call, however many
//! entries it carries.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{AnyError, OptionalSend, RaftLogId, StorageIOError};

use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};
use crate::codec;
use crate::store::{index_key, index_range, key_index, trees, Batch, Store, StoreError, Tree};

pub(crate) const KEY_VOTE: &[u8] = b"vote";
pub(crate) const KEY_COMMITTED: &[u8] = b"committed";
pub(crate) const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// The log store. Clones share the same trees; the clone handed out as log reader is used
/// concurrently by replication tasks, which sled allows.
#[derive(Clone)]
pub struct LogStore {
    store: Arc<dyn Store>,
    log: Arc<dyn Tree>,
    meta: Arc<dyn Tree>,
}

impl LogStore {
    pub fn open(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let log = store.open_tree(trees::RAFT_LOG)?;
        let meta = store.open_tree(trees::RAFT_META)?;
        Ok(Self { store, log, meta })
    }

    fn last_purged(&self) -> Result<Option<LogId>, StoreError> {
        self.meta.get_decoded(KEY_LAST_PURGED)
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, StoreError> {
        match self.log.last_in((Bound::Unbounded, Bound::Unbounded))? {
            Some((_, bytes)) => Ok(Some(*codec::decode::<Entry>(&bytes)?.get_log_id())),
            None => Ok(None),
        }
    }

    /// Removes every log entry whose index lies in `range`, atomically.
    fn remove_range(&self, start: Bound<&u64>, end: Bound<&u64>) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for kv in self.log.range(index_range(start, end)) {
            batch.remove(kv?.0);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.log.apply(batch)
    }
}

fn read_err(e: StoreError) -> StorageError {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

fn write_err(e: StoreError) -> StorageError {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut out = Vec::new();
        for kv in self.log.range(index_range(range.start_bound(), range.end_bound())) {
            let (key, bytes) = kv.map_err(read_err)?;
            let entry: Entry = codec::decode(&bytes).map_err(|e| read_err(e.into()))?;
            if key_index(&key) != Some(entry.get_log_id().index) {
                let e = AnyError::error(format!("log entry under key {key:?} has log id {}", entry.get_log_id()));
                return Err(StorageIOError::read_logs(e).into());
            }
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self.last_purged().map_err(read_err)?;
        // Entries at or below the purge point may survive a crash between the two writes of
        // `purge`; they are not part of the log any more.
        let last_log_id = match self.last_entry_id().map_err(read_err)? {
            Some(last) if Some(last) > last_purged_log_id => Some(last),
            _ => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let write = |e: StoreError| -> StorageError { StorageIOError::write_vote(AnyError::new(&e)).into() };
        self.meta.put_encoded(KEY_VOTE, vote).map_err(write)?;
        self.store.flush("vote").await.map_err(write)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.meta.get_decoded(KEY_VOTE).map_err(|e| StorageIOError::read_vote(AnyError::new(&e)).into())
    }

    /// Not flushed here, on the Raft core's loop: the state machine flushes it before it
    /// applies anything up to it (`StateMachine::apply`), so a restarted node re-applies at
    /// least everything it served before the crash.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.meta.put_encoded(KEY_COMMITTED, &committed).map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.meta.get_decoded::<Option<LogId>>(KEY_COMMITTED).map_err(read_err)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Batch::default();
        let mut count = 0u32;
        for entry in entries {
            count += 1;
            let bytes = codec::encode(&entry).map_err(|e| write_err(e.into()))?;
            batch.put(index_key(entry.get_log_id().index), bytes);
        }
        if !batch.is_empty() {
            self.log.apply(batch).map_err(write_err)?;
        }
        crate::metrics::RAFT_LOG_APPEND_ENTRIES.observe(f64::from(count));
        match self.store.flush("log_append").await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "truncating the log from this entry on");
        self.remove_range(Bound::Included(&log_id.index), Bound::Unbounded).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "purging the log up to this entry");
        // Record the purge point first, so a crash in between never loses it.
        self.meta.put_encoded(KEY_LAST_PURGED, &log_id).map_err(write_err)?;
        self.remove_range(Bound::Unbounded, Bound::Included(&log_id.index)).map_err(write_err)
    }
}

#[cfg(test)]
pub(crate) mod tests;
