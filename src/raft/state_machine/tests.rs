use std::collections::BTreeSet;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, Membership};

use super::*;
use crate::raft::testutil::*;
use crate::state::{ApplyError, Command};

fn open_sm(dir: &std::path::Path, observer: Arc<RecordingObserver>) -> StateMachine {
    let store: Arc<dyn Store> = Arc::new(open_sled(&dir.join("db")));
    StateMachine::open(store, observer).unwrap()
}

fn refused() -> u64 {
    metrics::COMMANDS_TOTAL.with_label_values(&["delete_zone", "refused"]).get()
}

#[tokio::test]
async fn one_observer_call_per_batch_with_the_changed_zones() {
    let dir = tempfile::tempdir().unwrap();
    let observer = RecordingObserver::new();
    let mut sm = open_sm(dir.path(), observer.clone());
    let mut applied = sm.applied_receiver();
    let refused0 = refused();

    let responses = sm
        .apply(vec![
            normal(1, 1, create_zone("a.test")),
            normal(1, 2, create_zone("b.test")),
            normal(1, 3, set_a("a.test", "h", 1)),
            normal(1, 4, Command::DeleteZone { origin: fqdn("nope.test") }),
            blank(1, 5),
        ])
        .await
        .unwrap();
    assert_eq!(responses.iter().map(|r| r.index).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert!(responses[2].result.as_ref().unwrap().changed());
    assert_eq!(responses[3].result, Err(ApplyError::NoSuchZone(fqdn("nope.test"))));
    assert_eq!(refused() - refused0, 1);

    let both: BTreeSet<_> = [fqdn("a.test"), fqdn("b.test")].into();
    assert_eq!(observer.calls(), vec![(None, 0), (Some(both), 5)]);
    assert_eq!(*applied.borrow_and_update(), 5);

    // A deleted zone is reported as changed too; a no-op reports nothing.
    sm.apply(vec![normal(1, 6, Command::DeleteZone { origin: fqdn("b.test") }), normal(1, 7, set_a("a.test", "h", 1))])
        .await
        .unwrap();
    assert_eq!(observer.calls().last().unwrap(), &(Some([fqdn("b.test")].into()), 7));
    assert!(applied.has_changed().unwrap());
}

#[tokio::test]
async fn an_installed_snapshot_replaces_the_state_and_survives_reopen() {
    let leader_dir = tempfile::tempdir().unwrap();
    let mut leader = open_sm(leader_dir.path(), RecordingObserver::new());
    let members = Membership::new(vec![BTreeSet::from([1, 2])], None);
    leader
        .apply(vec![
            Entry { log_id: log_id(1, 1), payload: EntryPayload::Membership(members) },
            normal(1, 2, create_zone("a.test")),
            normal(1, 3, set_a("a.test", "h", 1)),
        ])
        .await
        .unwrap();
    let at_3 = leader.handle().cloned();
    let mut builder = leader.get_snapshot_builder().await;
    // Applying after the builder was taken does not leak into the snapshot.
    leader.apply(vec![normal(1, 4, set_a("a.test", "late", 9))]).await.unwrap();
    let snap = builder.build_snapshot().await.unwrap();
    assert_eq!(snap.meta.last_log_id, Some(log_id(1, 3)));
    assert_eq!(snap.meta.last_membership.log_id(), &Some(log_id(1, 1)));

    let dir = tempfile::tempdir().unwrap();
    let observer = RecordingObserver::new();
    let mut follower = open_sm(dir.path(), observer.clone());
    follower.apply(vec![normal(1, 1, create_zone("stale.test"))]).await.unwrap();
    follower.install_snapshot(&snap.meta, snap.snapshot).await.unwrap();
    assert_eq!(follower.handle().cloned(), at_3);
    assert_eq!(observer.calls().last().unwrap(), &(None, 3));
    let (applied, membership) = follower.applied_state().await.unwrap();
    assert_eq!((applied, membership.log_id()), (Some(log_id(1, 3)), &Some(log_id(1, 1))));
    drop(follower);

    let reopened = open_sm(dir.path(), RecordingObserver::new());
    assert_eq!(reopened.handle().cloned(), at_3);
    assert_eq!(*reopened.applied_receiver().borrow(), 3);
}

#[tokio::test]
async fn a_corrupt_snapshot_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open_sm(dir.path(), RecordingObserver::new());
    sm.apply(vec![normal(1, 1, create_zone("a.test"))]).await.unwrap();
    let before = sm.handle().cloned();
    let meta = SnapshotMeta { last_log_id: Some(log_id(2, 9)), snapshot_id: "bad".into(), ..Default::default() };
    let err = sm.install_snapshot(&meta, Box::new(Cursor::new(b"not a snapshot".to_vec()))).await;
    assert!(err.is_err());
    assert_eq!(sm.handle().cloned(), before);
    assert!(sm.get_current_snapshot().await.unwrap().is_none());
}

/// Issue #18, defect 2, as the state machine sees it: a joining node first applies a
/// membership from before its own `add` (a snapshot, or old entries), which does not name
/// it: that is not a removal. Only a membership applied after one that named it is.
#[tokio::test]
async fn only_a_membership_newer_than_one_naming_this_node_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open_sm(dir.path(), RecordingObserver::new());
    let handle = sm.handle();
    handle.set_node_id(2);
    let members = |ids: &[u64]| Membership::new(vec![ids.iter().copied().collect::<BTreeSet<u64>>()], None);
    let entry =
        |index, ids: &[u64]| Entry { log_id: log_id(1, index), payload: EntryPayload::Membership(members(ids)) };

    sm.apply(vec![entry(1, &[1])]).await.unwrap();
    assert!(!handle.dropped_from_membership(), "a membership from before the add is not a removal");
    sm.apply(vec![entry(2, &[1, 2])]).await.unwrap();
    assert!(!handle.dropped_from_membership());
    sm.apply(vec![entry(3, &[1])]).await.unwrap();
    assert!(handle.dropped_from_membership(), "removed by a committed membership after one naming it");
}
