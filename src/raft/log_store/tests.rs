use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use openraft::storage::{RaftLogReader, RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageHelper;
use tempfile::TempDir;

use super::*;
use crate::raft::state_machine::StateMachine;
use crate::raft::testutil::*;
use crate::state::State;
use crate::store::{KeyRange, KvIter, SledStore};

fn open_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(open_sled(&dir.join("db")))
}

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path());
        let log = LogStore::open(store.clone()).unwrap();
        let sm = StateMachine::open(store, RecordingObserver::new()).unwrap();
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    Suite::<TypeConfig, LogStore, StateMachine, Builder, TempDir>::test_all(Builder).unwrap();
}

/// Wraps a store to count flushes and to know whether writes are waiting for one.
struct CountingStore {
    inner: SledStore,
    flushes: AtomicUsize,
    dirty: Arc<AtomicBool>,
}

struct CountingTree {
    inner: Arc<dyn Tree>,
    dirty: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Store for CountingStore {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError> {
        Ok(Arc::new(CountingTree { inner: self.inner.open_tree(name)?, dirty: self.dirty.clone() }))
    }

    async fn flush(&self, what: &'static str) -> Result<(), StoreError> {
        self.dirty.store(false, Ordering::SeqCst);
        self.inner.flush(what).await?;
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Tree for CountingTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.dirty.store(true, Ordering::SeqCst);
        self.inner.put(key, value)
    }
    fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        self.dirty.store(true, Ordering::SeqCst);
        self.inner.remove(key)
    }
    fn range(&self, range: KeyRange) -> KvIter<'_> {
        self.inner.range(range)
    }
    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.dirty.store(true, Ordering::SeqCst);
        self.inner.apply(batch)
    }
}

fn counting_store(dir: &Path) -> Arc<CountingStore> {
    Arc::new(CountingStore {
        inner: SledStore::open(&dir.join("db")).unwrap(),
        flushes: AtomicUsize::new(0),
        dirty: Arc::new(AtomicBool::new(false)),
    })
}

#[tokio::test]
async fn one_flush_per_append_call_and_nothing_unflushed_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let counting = counting_store(dir.path());
    let mut log = LogStore::open(counting.clone()).unwrap();

    let entries: Vec<_> = (1..=5).map(|i| normal(1, i, set_a("dyn.test", "h", i as u8))).collect();
    log.blocking_append(entries).await.unwrap();
    assert_eq!(counting.flushes.load(Ordering::SeqCst), 1, "a batch of 5 entries is one flush");
    assert!(!counting.dirty.load(Ordering::SeqCst), "acknowledged append left unflushed writes");

    log.blocking_append([blank(1, 6)]).await.unwrap();
    assert_eq!(counting.flushes.load(Ordering::SeqCst), 2);

    log.save_vote(&openraft::Vote::new(2, 1)).await.unwrap();
    assert_eq!(counting.flushes.load(Ordering::SeqCst), 3, "a vote is flushed before save_vote returns");
    assert!(!counting.dirty.load(Ordering::SeqCst));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Copies the files of a live database, as a power cut would leave them, and reads the log
/// back from the copy. sled's background flush is off, so only our flushes reach the files.
#[tokio::test]
async fn acknowledged_appends_and_votes_are_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open_with(sled::Config::new().path(&live).flush_every_ms(None)).unwrap());
    let mut log = LogStore::open(store.clone()).unwrap();
    log.save_vote(&openraft::Vote::new(3, 1)).await.unwrap();
    log.blocking_append((1..=3).map(|i| normal(3, i, set_a("dyn.test", "h", i as u8)))).await.unwrap();

    // Control: a write that nobody flushed does not reach the files, so this test would
    // notice a log store that stopped flushing.
    store.open_tree("control").unwrap().put(b"k", b"unflushed").unwrap();

    let copy = dir.path().join("copy");
    copy_dir(&live, &copy);
    let copied: Arc<dyn Store> = Arc::new(SledStore::open(&copy).unwrap());
    let mut recovered = LogStore::open(copied.clone()).unwrap();
    assert_eq!(recovered.read_vote().await.unwrap(), Some(openraft::Vote::new(3, 1)));
    let entries = recovered.try_get_log_entries(..).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.log_id.index).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(copied.open_tree("control").unwrap().get(b"k").unwrap(), None);
}

#[tokio::test]
async fn purge_and_truncate_keep_log_state_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(open_store(dir.path())).unwrap();
    log.blocking_append((1..=10).map(|i| blank(1, i))).await.unwrap();
    log.purge(log_id(1, 4)).await.unwrap();
    log.truncate(log_id(1, 8)).await.unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 4)));
    assert_eq!(state.last_log_id, Some(log_id(1, 7)));
    let left: Vec<u64> = log.try_get_log_entries(0..100).await.unwrap().iter().map(|e| e.log_id.index).collect();
    assert_eq!(left, vec![5, 6, 7]);

    // Purging everything leaves the purge point as the last log id.
    log.purge(log_id(1, 7)).await.unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(1, 7)));
    assert!(log.try_get_log_entries(..).await.unwrap().is_empty());
}

/// What `Raft::new` does on start: the state machine, rebuilt from the snapshot only,
/// re-applies the committed entries the log store reports.
#[tokio::test]
async fn restart_reapplies_committed_entries_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let cmds =
        [create_zone("dyn.test"), set_a("dyn.test", "a", 1), set_a("dyn.test", "b", 2), set_a("dyn.test", "c", 3)];
    let mut expected = State::default();
    {
        let store = open_store(dir.path());
        let mut log = LogStore::open(store.clone()).unwrap();
        let mut sm = StateMachine::open(store.clone(), RecordingObserver::new()).unwrap();
        // A log starts at index 0 (the initial membership in a real cluster).
        let mut entries = vec![blank(1, 0)];
        entries.extend(cmds.iter().enumerate().map(|(i, c)| normal(1, i as u64 + 1, c.clone())));
        log.blocking_append(entries.clone()).await.unwrap();
        // Apply and snapshot up to index 2, apply the rest: only the snapshot is on disk.
        sm.apply(entries[..3].to_vec()).await.unwrap();
        openraft::RaftSnapshotBuilder::build_snapshot(&mut sm.get_snapshot_builder().await).await.unwrap();
        sm.apply(entries[3..].to_vec()).await.unwrap();
        log.save_committed(Some(log_id(1, 4))).await.unwrap();
        store.flush("test").await.unwrap();
        for c in &cmds {
            expected.apply(c).unwrap();
        }
        assert_eq!(sm.handle().cloned(), expected);
    }

    let store = open_store(dir.path());
    let mut log = LogStore::open(store.clone()).unwrap();
    let observer = RecordingObserver::new();
    let mut sm = StateMachine::open(store, observer.clone()).unwrap();
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 2)), "restored from the snapshot");
    assert_ne!(sm.handle().cloned(), expected);
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(1, 4)));

    StorageHelper::new(&mut log, &mut sm).get_initial_state().await.unwrap();
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 4)));
    assert_eq!(sm.handle().cloned(), expected, "committed entries re-applied on start");
    let calls = observer.calls();
    assert_eq!(calls[0], (None, 2), "start publishes the restored snapshot as a full change");
    assert_eq!(calls.last().unwrap().1, 4);
}

/// A node restarts by re-applying up to the stored committed index; if that index were
/// behind what was applied (and served) before a crash, the node would come back serving an
/// older zone. So the committed index must be on disk before entries up to it are applied.
#[tokio::test]
async fn the_committed_index_is_on_disk_before_entries_up_to_it_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let counting = counting_store(dir.path());
    let mut log = LogStore::open(counting.clone()).unwrap();
    let mut sm = StateMachine::open(counting.clone(), RecordingObserver::new()).unwrap();
    let entries = || (1..=3).map(|i| normal(1, i, set_a("dyn.test", "h", i as u8))).collect::<Vec<_>>();
    log.blocking_append(entries()).await.unwrap();
    log.save_committed(Some(log_id(1, 3))).await.unwrap();
    assert!(counting.dirty.load(Ordering::SeqCst), "saving the committed index alone is not flushed");
    let before = counting.flushes.load(Ordering::SeqCst);
    sm.apply(entries()).await.unwrap();
    assert!(!counting.dirty.load(Ordering::SeqCst), "entries were applied while their commit was not on disk");
    assert_eq!(counting.flushes.load(Ordering::SeqCst), before + 1, "one flush per applied batch");
}
