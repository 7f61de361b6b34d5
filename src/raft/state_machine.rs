//! The openraft state machine adapter around [`State::apply`].
//!
//! The applied state lives in memory only. On start it is restored from the persisted
//! snapshot; openraft then re-applies the committed log entries after it (the log store
//! persists the committed log id for exactly that). Snapshots are the only thing this
//! module writes to disk: `codec::encode((State, last applied, membership))` in the
//! snapshot tree, flushed before openraft is told about them.

use std::io::Cursor;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{AnyError, EntryPayload, OptionalSend, RaftLogId, StorageIOError};
use tokio::sync::watch;

use super::types::{
    Entry, LogId, NodeId, Request, Response, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::state::{Applied, ApplyError, ChangeSet, Command, State, StateObserver};
use crate::store::{trees, Batch, Store, StoreError, Tree};
use crate::{codec, metrics};

pub(crate) const KEY_META: &[u8] = b"meta";
pub(crate) const KEY_DATA: &[u8] = b"data";

/// Shared read access to the applied state. Take short reads; never hold one across an
/// `.await` (the closure form makes that impossible).
#[derive(Clone, Default)]
pub struct StateHandle {
    inner: Arc<RwLock<State>>,
    /// The membership of the last applied entry (committed, unlike Raft's effective one);
    /// after a snapshot install, the snapshot's.
    membership: Arc<RwLock<AppliedMembership>>,
}

/// The applied membership, and the index of the newest applied one that named this node
/// (every membership entry is seen here as it is applied, none is missed by sampling).
#[derive(Clone, Debug, Default)]
struct AppliedMembership {
    me: Option<NodeId>,
    current: StoredMembership,
    named_at: Option<u64>,
}

impl StateHandle {
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock_read())
    }

    /// A copy of the whole state (tests, backups).
    pub fn cloned(&self) -> State {
        self.read(State::clone)
    }

    /// The applied (so committed) membership.
    pub fn applied_membership(&self) -> StoredMembership {
        self.membership.read().unwrap_or_else(|e| e.into_inner()).current.clone()
    }

    /// Whether a committed membership dropped this node: the applied membership does not
    /// name it and is newer than an applied one that did. A membership that predates this
    /// node's `add` (a snapshot installed while joining, old entries replayed) never
    /// counts: this node has not been named by anything applied before it.
    pub fn dropped_from_membership(&self) -> bool {
        let m = self.membership.read().unwrap_or_else(|e| e.into_inner());
        let Some(me) = m.me else { return false };
        let index = m.current.log_id().map(|l| l.index);
        m.current.membership().get_node(&me).is_none()
            && matches!((m.named_at, index), (Some(named), Some(now)) if now > named)
    }

    /// Tells the handle which node it belongs to (for [`Self::dropped_from_membership`]).
    pub fn set_node_id(&self, me: NodeId) {
        let mut m = self.membership.write().unwrap_or_else(|e| e.into_inner());
        m.me = Some(me);
        let current = m.current.clone();
        note_membership(&mut m, &current);
    }

    fn set_membership(&self, stored: &StoredMembership) {
        let mut m = self.membership.write().unwrap_or_else(|e| e.into_inner());
        note_membership(&mut m, stored);
    }

    fn lock_read(&self) -> RwLockReadGuard<'_, State> {
        // A panic inside apply must not take readers down with it; apply changes nothing
        // on error, so the last state is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn replace(&self, state: State) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = state;
    }
}

fn note_membership(m: &mut AppliedMembership, stored: &StoredMembership) {
    m.current = stored.clone();
    if let Some(me) = m.me {
        if stored.membership().get_node(&me).is_some() {
            m.named_at = m.named_at.max(stored.log_id().map(|l| l.index));
        }
    }
}

impl std::fmt::Debug for StateHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateHandle").finish_non_exhaustive()
    }
}

pub struct StateMachine {
    state: StateHandle,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    observer: Arc<dyn StateObserver>,
    applied_tx: watch::Sender<u64>,
    store: Arc<dyn Store>,
    snapshots: Arc<dyn Tree>,
}

fn sm_read_err(e: impl Into<StoreError>) -> StorageError {
    StorageIOError::read_state_machine(AnyError::new(&e.into())).into()
}

impl StateMachine {
    /// Opens the state machine: restores the persisted snapshot, if any, and tells the
    /// observer that everything changed.
    pub fn open(store: Arc<dyn Store>, observer: Arc<dyn StateObserver>) -> Result<Self, StoreError> {
        let snapshots = store.open_tree(trees::RAFT_SNAPSHOT)?;
        let mut sm = Self {
            state: StateHandle::default(),
            last_applied: None,
            membership: StoredMembership::default(),
            observer,
            applied_tx: watch::channel(0).0,
            store,
            snapshots,
        };
        if let Some((meta, data)) = sm.read_snapshot()? {
            let (state, _, _): SnapshotPayload = codec::decode(&data)?;
            tracing::info!(snapshot = %meta, "restored state from the persisted snapshot");
            sm.state.replace(state);
            sm.last_applied = meta.last_log_id;
            sm.membership = meta.last_membership;
            sm.state.set_membership(&sm.membership);
        }
        sm.publish(None);
        Ok(sm)
    }

    pub fn handle(&self) -> StateHandle {
        self.state.clone()
    }

    /// The last applied log index, updated after every applied batch or installed snapshot.
    pub fn applied_receiver(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    fn read_snapshot(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StoreError> {
        let meta: Option<SnapshotMeta> = self.snapshots.get_decoded(KEY_META)?;
        match (meta, self.snapshots.get(KEY_DATA)?) {
            (Some(meta), Some(data)) => Ok(Some((meta, data))),
            _ => Ok(None),
        }
    }

    /// Tells the observer, the applied watch and the metric about the current state.
    fn publish(&self, changed: Option<&ChangeSet>) {
        let index = self.last_applied.map(|l| l.index).unwrap_or(0);
        self.state.read(|state| self.observer.state_changed_in(state, changed, index));
        self.applied_tx.send_replace(index);
        metrics::RAFT_APPLIED.set(i64::try_from(index).unwrap_or(i64::MAX));
    }
}

/// Counts and logs one applied command, and notes what it changed for the DNS view. A
/// `repeated` request (its id applied before) changed nothing: it answered the first outcome.
fn counted(
    index: u64,
    command: &Command,
    result: &Result<Applied, ApplyError>,
    repeated: bool,
    changed: &mut ChangeSet,
) {
    let kind = command.kind();
    let outcome = match result {
        _ if repeated => "repeated",
        Ok(applied) if applied.changed() => "changed",
        Ok(_) => "unchanged",
        Err(_) => "refused",
    };
    tracing::debug!(index, kind, outcome, "applied");
    metrics::COMMANDS_TOTAL.with_label_values(&[kind, outcome]).inc();
    match result {
        Ok(applied) if !repeated => changed.record(applied),
        _ => {}
    }
}

/// What a snapshot holds: the state, the last applied log id and the membership.
pub(crate) type SnapshotPayload = (State, Option<LogId>, StoredMembership);

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // openraft saved the committed index (`save_committed`, not flushed) before handing
        // these entries over. Make it durable before anything is applied and served: after
        // a kill -9 the node restarts by re-applying up to the *stored* committed index,
        // and a stale one made it serve an older zone (a lower SOA serial) than it served
        // before the crash, until a leader told it more (found by the jepsen kill nemesis).
        self.store.flush("committed").await.map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?;
        let mut responses = Vec::new();
        let mut changed = ChangeSet::default();
        {
            let mut state = self.state.inner.write().unwrap_or_else(|e| e.into_inner());
            for entry in entries {
                let log_id = *entry.get_log_id();
                self.last_applied = Some(log_id);
                let mut group = Vec::new();
                let result = match entry.payload {
                    EntryPayload::Blank => Ok(Applied::default()),
                    EntryPayload::Membership(m) => {
                        self.membership = StoredMembership::new(Some(log_id), m);
                        self.state.set_membership(&self.membership);
                        Ok(Applied::default())
                    }
                    EntryPayload::Normal(Request { command: Command::Group(commands) }) => {
                        let repeated: Vec<bool> = commands.iter().map(|c| state.already_applied(c)).collect();
                        group = state.apply_group(log_id.index, &commands);
                        for ((command, result), repeated) in commands.iter().zip(&group).zip(repeated) {
                            counted(log_id.index, command, result, repeated, &mut changed);
                        }
                        Ok(Applied::default())
                    }
                    EntryPayload::Normal(req) => {
                        let repeated = state.already_applied(&req.command);
                        let result = state.apply_at(log_id.index, &req.command);
                        counted(log_id.index, &req.command, &result, repeated, &mut changed);
                        result
                    }
                };
                responses.push(Response { index: log_id.index, result, group });
            }
        }
        if !responses.is_empty() {
            self.publish(Some(&changed));
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Encode now, under a short read lock, so the snapshot is exactly the state at
        // `last_applied` even if apply moves on while the builder runs.
        let payload = self
            .state
            .read(|state| codec::encode(&(state, &self.last_applied, &self.membership)))
            .map_err(StoreError::from);
        SnapshotBuilder {
            payload,
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let write_err = |e: StoreError| -> StorageError {
            StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)).into()
        };
        let (state, _, _): SnapshotPayload = codec::decode(&data).map_err(|e| write_err(e.into()))?;
        persist_snapshot(self.store.as_ref(), self.snapshots.as_ref(), meta, data).await.map_err(write_err)?;
        tracing::info!(snapshot = %meta, "installed snapshot");
        metrics::RAFT_SNAPSHOTS_TOTAL.with_label_values(&["installed"]).inc();
        self.state.replace(state);
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.state.set_membership(&self.membership);
        self.publish(None);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(self
            .read_snapshot()
            .map_err(sm_read_err)?
            .map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}

/// Writes a snapshot's meta and data in one batch and flushes them.
async fn persist_snapshot(
    store: &dyn Store,
    snapshots: &dyn Tree,
    meta: &SnapshotMeta,
    data: Vec<u8>,
) -> Result<(), StoreError> {
    let len = data.len();
    let mut batch = Batch::default();
    batch.put_encoded(KEY_META, meta)?;
    batch.put(KEY_DATA, data);
    snapshots.apply(batch)?;
    store.flush("snapshot").await?;
    metrics::RAFT_SNAPSHOT_BYTES.set(i64::try_from(len).unwrap_or(i64::MAX));
    metrics::RAFT_SNAPSHOT_TIMESTAMP.set(metrics::unix_now());
    // Set here, not only from openraft's metrics (which arrive later), so the gauge agrees
    // with the snapshot as soon as it is durable.
    let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
    metrics::RAFT_SNAPSHOT_INDEX.set(i64::try_from(index).unwrap_or(i64::MAX));
    Ok(())
}

/// Persists the state captured by `get_snapshot_builder`.
pub struct SnapshotBuilder {
    payload: Result<Vec<u8>, StoreError>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    store: Arc<dyn Store>,
    snapshots: Arc<dyn Tree>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let data = std::mem::replace(&mut self.payload, Ok(Vec::new())).map_err(sm_read_err)?;
        let unique =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{unique}", l.leader_id, l.index),
            None => format!("none-{unique}"),
        };
        let meta =
            SnapshotMeta { last_log_id: self.last_applied, last_membership: self.membership.clone(), snapshot_id };
        persist_snapshot(self.store.as_ref(), self.snapshots.as_ref(), &meta, data.clone())
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)))?;
        tracing::info!(snapshot = %meta, bytes = data.len(), "built snapshot");
        // The encoding's growth copies are freed; the log purge behind it follows.
        crate::heap::release_soon();
        metrics::RAFT_SNAPSHOTS_TOTAL.with_label_values(&["built"]).inc();
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

#[cfg(test)]
mod tests;
