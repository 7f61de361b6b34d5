use std::ops::Bound;

use super::*;

fn open(dir: &std::path::Path) -> SledStore {
    crate::raft::testutil::open_sled(&dir.join("db"))
}

fn all() -> KeyRange {
    (Bound::Unbounded, Bound::Unbounded)
}

#[test]
fn put_get_remove_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = store.open_tree("t").unwrap();
    assert_eq!(t.get(b"k").unwrap(), None);
    t.put(b"k", b"v").unwrap();
    assert_eq!(t.get(b"k").unwrap(), Some(b"v".to_vec()));
    t.remove(b"k").unwrap();
    assert_eq!(t.get(b"k").unwrap(), None);

    t.put_encoded(b"typed", &(7u64, "x".to_string())).unwrap();
    assert_eq!(t.get_decoded::<(u64, String)>(b"typed").unwrap(), Some((7, "x".to_string())));
    // A raw value that is not a versioned record is an error, not garbage.
    t.put(b"raw", b"").unwrap();
    assert!(t.get_decoded::<u64>(b"raw").is_err());
}

#[test]
fn index_keys_scan_in_log_order_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = store.open_tree(trees::RAFT_LOG).unwrap();
    // 255 and 256 would sort wrongly as little-endian or decimal text.
    for i in [1u64, 2, 255, 256, 70_000] {
        t.put(&index_key(i), &i.to_le_bytes()).unwrap();
    }
    let forward: Vec<u64> = t.range(all()).map(|r| key_index(&r.unwrap().0).unwrap()).collect();
    assert_eq!(forward, vec![1, 2, 255, 256, 70_000]);
    let backward: Vec<u64> = t.range(all()).rev().map(|r| key_index(&r.unwrap().0).unwrap()).collect();
    assert_eq!(backward, vec![70_000, 256, 255, 2, 1]);

    let mid: Vec<u64> = t
        .range(index_range(Bound::Included(&2), Bound::Excluded(&256)))
        .map(|r| key_index(&r.unwrap().0).unwrap())
        .collect();
    assert_eq!(mid, vec![2, 255]);

    let last = t.last_in(index_range(Bound::Unbounded, Bound::Included(&300))).unwrap().unwrap();
    assert_eq!(key_index(&last.0), Some(256));
    assert!(t.last_in(index_range(Bound::Unbounded, Bound::Excluded(&1))).unwrap().is_none());
}

#[test]
fn batch_applies_puts_and_removes_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = store.open_tree("t").unwrap();
    t.put(b"a", b"1").unwrap();
    let mut b = Batch::default();
    b.remove(b"a".to_vec());
    b.put(b"b".to_vec(), b"2".to_vec());
    b.put_encoded(b"c".to_vec(), &3u32).unwrap();
    t.apply(b).unwrap();
    assert_eq!(t.get(b"a").unwrap(), None);
    assert_eq!(t.get(b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(t.get_decoded::<u32>(b"c").unwrap(), Some(3));
}

#[tokio::test]
async fn flushed_data_survives_reopen_and_trees_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.open_tree("one").unwrap().put(b"k", b"1").unwrap();
        store.open_tree("two").unwrap().put(b"k", b"2").unwrap();
        store.flush("test").await.unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.open_tree("one").unwrap().get(b"k").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.open_tree("two").unwrap().get(b"k").unwrap(), Some(b"2".to_vec()));
    let count = crate::metrics::STORAGE_FLUSH_DURATION.with_label_values(&["test"]).get_sample_count();
    assert!(count >= 1, "flush latency is recorded");
}

#[test]
fn key_index_rejects_wrong_lengths() {
    assert_eq!(key_index(&index_key(42)), Some(42));
    assert_eq!(key_index(b"short"), None);
}
