//! The owner-name index of a [`ZoneView`](super::snapshot::ZoneView): a hash map split
//! into `Arc`-shared shards, so a new zone version that changes a few names copies only
//! the shards holding them (plus one pointer per shard) instead of the whole zone.
//!
//! One hash per lookup: its high bits pick the shard, the same hash finds the entry in
//! the shard's table. The hasher is SipHash with a random key (std `RandomState`), so
//! query names chosen by an attacker cannot aim at one bucket.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

use super::nodeview::NodeView;

/// Each entry carries its own key ([`NodeView::key`]): 16 bytes per slot.
type Shard = HashTable<NodeView>;

/// Names per shard the map aims at; it is rebuilt when it drifts 4x away from this.
const TARGET_PER_SHARD: usize = 32;
const MAX_SHARDS: usize = 1 << 16;

#[derive(Clone, Debug)]
pub struct NodeMap {
    hasher: RandomState,
    shards: Box<[Arc<Shard>]>,
    mask: usize,
    len: usize,
}

impl Default for NodeMap {
    fn default() -> Self {
        NodeMap::with_capacity(0)
    }
}

fn shard_count(len: usize) -> usize {
    (len / TARGET_PER_SHARD).next_power_of_two().clamp(1, MAX_SHARDS)
}

impl NodeMap {
    pub fn with_capacity(len: usize) -> NodeMap {
        let n = shard_count(len);
        let per = len / n + 1;
        let shards = (0..n).map(|_| Arc::new(HashTable::with_capacity(per))).collect();
        NodeMap { hasher: RandomState::new(), shards, mask: n - 1, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn locate(&self, key: &[u8]) -> (u64, usize) {
        let hash = self.hasher.hash_one(key);
        (hash, (hash >> 32) as usize & self.mask)
    }

    pub fn get(&self, key: &[u8]) -> Option<&NodeView> {
        let (hash, i) = self.locate(key);
        self.shards.get(i)?.find(hash, |e| e.key() == key)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Mutable access; copies the shard first if another version shares it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut NodeView> {
        let (hash, i) = self.locate(key);
        let shard = self.shards.get_mut(i)?;
        // Only copy when the key is there.
        shard.find(hash, |e| e.key() == key)?;
        Arc::make_mut(shard).find_mut(hash, |e| e.key() == key)
    }

    /// Inserts `view` under its own key, returning the node it replaced.
    pub fn insert(&mut self, view: NodeView) -> Option<NodeView> {
        let (hash, i) = self.locate(view.key());
        let hasher = &self.hasher;
        let shard = Arc::make_mut(&mut self.shards[i]);
        match shard.entry(hash, |e| e.key() == view.key(), |e| hasher.hash_one(e.key())) {
            hashbrown::hash_table::Entry::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), view)),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(view);
                self.len += 1;
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<NodeView> {
        let (hash, i) = self.locate(key);
        let shard = self.shards.get_mut(i)?;
        shard.find(hash, |e| e.key() == key)?;
        let Ok(o) = Arc::make_mut(shard).find_entry(hash, |e| e.key() == key) else { return None };
        self.len -= 1;
        Some(o.remove().0)
    }

    /// Every node, in no particular order; each carries its key.
    pub fn iter(&self) -> impl Iterator<Item = &NodeView> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// Whether the shard count is far enough from the size to warrant [`Self::rebalanced`].
    pub fn needs_rebalance(&self) -> bool {
        let n = self.shards.len();
        (self.len > n * TARGET_PER_SHARD * 4 && n < MAX_SHARDS) || (n > 1 && self.len * 4 < n * TARGET_PER_SHARD)
    }

    /// The same entries with a shard count fitted to the size.
    pub fn rebalanced(&self) -> NodeMap {
        let mut out = NodeMap::with_capacity(self.len);
        for v in self.iter() {
            out.insert(v.clone());
        }
        out
    }
}

impl<'a> IntoIterator for &'a NodeMap {
    type Item = &'a NodeView;
    type IntoIter = Box<dyn Iterator<Item = Self::Item> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_only_the_changed_shard_and_keeps_the_old_version() {
        let mut a = NodeMap::with_capacity(10_000);
        for i in 0..10_000u32 {
            a.insert(NodeView::empty(&i.to_be_bytes(), 0));
        }
        let mut b = a.clone();
        b.remove(&7u32.to_be_bytes());
        b.insert(NodeView::empty(b"new", 5));
        assert_eq!((a.len(), b.len()), (10_000, 10_000));
        assert!(a.contains_key(&7u32.to_be_bytes()) && !b.contains_key(&7u32.to_be_bytes()));
        assert!(b.get(b"new").is_some_and(|v| v.children() == 5) && a.get(b"new").is_none());
        let shared = a.shards.iter().zip(b.shards.iter()).filter(|(x, y)| Arc::ptr_eq(x, y)).count();
        assert!(shared >= a.shards.len() - 2, "only the touched shards are copied");
        assert_eq!(b.iter().count(), 10_000);
    }

    #[test]
    fn rebalances_as_it_grows_and_shrinks() {
        let mut m = NodeMap::default();
        for i in 0..5_000u32 {
            m.insert(NodeView::empty(&i.to_be_bytes(), 0));
            if m.needs_rebalance() {
                m = m.rebalanced();
            }
        }
        assert!(m.shards.len() > 16);
        for i in 0..4_990u32 {
            assert!(m.remove(&i.to_be_bytes()).is_some());
            if m.needs_rebalance() {
                m = m.rebalanced();
            }
        }
        assert_eq!(m.len(), 10);
        assert!(m.shards.len() <= 2);
        assert!((4_990..5_000u32).all(|i| m.contains_key(&i.to_be_bytes())));
    }
}
