//! The record sets at one owner name.
//!
//! Almost every owner of a dynamic-DNS zone holds one or two RRsets, so a `BTreeMap` per
//! owner (one B-tree leaf sized for 11 entries: ~380 bytes for a single A set) was most of
//! the replicated state's memory. `Node` is a `Vec` kept sorted by type with the map
//! operations the state needs. It serializes exactly like the `BTreeMap<RType, RecordSet>`
//! it replaces (a serde map in type order), so Raft logs and snapshots written before
//! stay readable (test below).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::record::{RType, RecordSet};

/// Record sets by type, sorted by type, at most one per type; the first inline (most
/// owners hold one set), which saves a 48-byte allocation per owner.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Node(SmallVec<[(RType, RecordSet); 1]>);

impl Node {
    pub fn new() -> Self {
        Node(SmallVec::new())
    }

    fn find(&self, rtype: &RType) -> Result<usize, usize> {
        self.0.binary_search_by(|(t, _)| t.cmp(rtype))
    }

    /// Inserts at `i`, growing by exactly one: a doubling growth would reserve room for
    /// sets the owner does not have.
    fn grow_at(&mut self, i: usize, rtype: RType, set: RecordSet) {
        self.0.reserve_exact(1);
        self.0.insert(i, (rtype, set));
    }

    pub fn get(&self, rtype: &RType) -> Option<&RecordSet> {
        self.find(rtype).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, rtype: &RType) -> Option<&mut RecordSet> {
        self.find(rtype).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, rtype: &RType) -> bool {
        self.find(rtype).is_ok()
    }

    /// Sets the RRset of `rtype`, returning the one it replaced.
    pub fn insert(&mut self, rtype: RType, set: RecordSet) -> Option<RecordSet> {
        match self.find(&rtype) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, set)),
            Err(i) => {
                self.grow_at(i, rtype, set);
                None
            }
        }
    }

    /// The RRset of `rtype`, created by `make` when there is none.
    pub fn get_or_insert_with(&mut self, rtype: RType, make: impl FnOnce() -> RecordSet) -> &mut RecordSet {
        let i = match self.find(&rtype) {
            Ok(i) => i,
            Err(i) => {
                self.grow_at(i, rtype, make());
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn remove(&mut self, rtype: &RType) -> Option<RecordSet> {
        self.find(rtype).ok().map(|i| self.0.remove(i).1)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&RType, &mut RecordSet) -> bool) {
        self.0.retain_mut(|(t, s)| keep(t, s));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In type order, like the map it replaces.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&RType, &RecordSet)> + ExactSizeIterator {
        self.0.iter().map(|(t, s)| (t, s))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &RType> + ExactSizeIterator {
        self.0.iter().map(|(t, _)| t)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &RecordSet> + ExactSizeIterator {
        self.0.iter().map(|(_, s)| s)
    }
}

impl FromIterator<(RType, RecordSet)> for Node {
    /// Like collecting into a map: a later set of the same type wins.
    fn from_iter<I: IntoIterator<Item = (RType, RecordSet)>>(iter: I) -> Self {
        let mut node = Node::new();
        for (t, s) in iter {
            node.insert(t, s);
        }
        node.0.shrink_to_fit();
        node
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of record type to record set")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                // Capacity from the input only up to the number of types there are.
                let mut node = Node(SmallVec::with_capacity(map.size_hint().unwrap_or(0).min(RType::ALL.len())));
                while let Some((t, s)) = map.next_entry::<RType, RecordSet>()? {
                    node.insert(t, s);
                }
                Ok(node)
            }
        }
        deserializer.deserialize_map(NodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    use super::*;
    use crate::model::{Fqdn, RData};

    fn sets() -> Vec<(RType, RecordSet)> {
        let name = Fqdn::parse("mail.example.test").unwrap();
        vec![
            (RType::Txt, RecordSet::new(300, vec![RData::Txt(vec![b"v=spf1 -all".to_vec()])])),
            (RType::A, RecordSet::new(60, vec![RData::A(Ipv4Addr::new(192, 0, 2, 1))])),
            (RType::Mx, RecordSet::new(3600, vec![RData::Mx { preference: 10, exchange: name }])),
        ]
    }

    #[test]
    fn node_encodes_exactly_like_the_map_it_replaced() {
        let map: BTreeMap<RType, RecordSet> = sets().into_iter().collect();
        let node: Node = sets().into_iter().collect();
        let old_bytes = crate::codec::encode(&map).unwrap();
        assert_eq!(crate::codec::encode(&node).unwrap(), old_bytes);
        let decoded: Node = crate::codec::decode(&old_bytes).unwrap();
        assert_eq!(decoded, node);
        assert_eq!(decoded.keys().copied().collect::<Vec<_>>(), map.keys().copied().collect::<Vec<_>>());
        let back: BTreeMap<RType, RecordSet> = crate::codec::decode(&crate::codec::encode(&node).unwrap()).unwrap();
        assert_eq!(back, map);
    }

    /// `RData` as it was before names became `Box<str>` and CAA fields boxed slices.
    #[derive(Serialize)]
    #[allow(dead_code)]
    enum OldRData {
        A(Ipv4Addr),
        Aaaa(std::net::Ipv6Addr),
        Ns(String),
        Cname(String),
        Ptr(String),
        Mx { preference: u16, exchange: String },
        Txt(Vec<Vec<u8>>),
        Srv { priority: u16, weight: u16, port: u16, target: String },
        Caa { flags: u8, tag: String, value: Vec<u8> },
    }

    #[test]
    fn rdata_with_boxed_fields_encodes_like_before() {
        let old = vec![
            OldRData::Caa { flags: 128, tag: "issue".into(), value: b"ca.example".to_vec() },
            OldRData::Srv { priority: 1, weight: 2, port: 3, target: "t.example.test".into() },
            OldRData::Cname("a.example.test".into()),
        ];
        let new = vec![
            RData::caa(128, "issue".into(), b"ca.example".as_slice().into()),
            RData::Srv { priority: 1, weight: 2, port: 3, target: Fqdn::parse("t.example.test").unwrap() },
            RData::Cname(Fqdn::parse("a.example.test").unwrap()),
        ];
        let bytes = crate::codec::encode(&old).unwrap();
        assert_eq!(crate::codec::encode(&new).unwrap(), bytes);
        assert_eq!(crate::codec::decode::<Vec<RData>>(&bytes).unwrap(), new);
        assert!(std::mem::size_of::<RData>() <= 32);
    }

    /// `RecordSet` as it was before its records were held inline.
    #[derive(Serialize)]
    struct OldRecordSet {
        ttl: u32,
        data: Vec<RData>,
    }

    #[test]
    fn record_sets_encode_like_their_vec_form_and_decode_inline() {
        for n in [0u8, 1, 3] {
            let data: Vec<RData> = (0..n).map(|i| RData::A(Ipv4Addr::new(192, 0, 2, i))).collect();
            let bytes = crate::codec::encode(&OldRecordSet { ttl: 60, data: data.clone() }).unwrap();
            let set = RecordSet::new(60, data);
            assert_eq!(crate::codec::encode(&set).unwrap(), bytes);
            let decoded: RecordSet = crate::codec::decode(&bytes).unwrap();
            assert_eq!(decoded, set);
            assert_eq!(decoded.data.spilled(), n > 1);
        }
    }

    #[test]
    fn node_keeps_one_set_per_type_in_type_order() {
        let mut node = Node::new();
        assert!(node.insert(RType::Txt, sets()[0].1.clone()).is_none());
        assert!(node.insert(RType::A, sets()[1].1.clone()).is_none());
        assert_eq!(node.insert(RType::A, sets()[1].1.clone()), Some(sets()[1].1.clone()));
        node.get_or_insert_with(RType::Mx, || sets()[2].1.clone());
        assert_eq!(node.keys().copied().collect::<Vec<_>>(), vec![RType::A, RType::Mx, RType::Txt]);
        assert_eq!(node.remove(&RType::Mx), Some(sets()[2].1.clone()));
        node.retain(|t, _| *t == RType::Txt);
        assert_eq!(node.len(), 1);
        assert!(node.contains_key(&RType::Txt) && node.get(&RType::A).is_none());
    }

    /// Memory: one owner's sets take exactly their room (a `Vec` grown by `insert` or `push`
    /// would reserve four slots at its first growth).
    #[test]
    fn nodes_and_sets_grow_by_exactly_what_they_hold() {
        let mut node = Node::new();
        node.insert(RType::A, RecordSet::new(60, vec![]));
        assert_eq!(node.0.capacity(), 1);
        node.get_or_insert_with(RType::Aaaa, || RecordSet::new(60, vec![]));
        assert_eq!(node.0.capacity(), 2);
        let set = node.get_mut(&RType::A).unwrap();
        for ip in [3, 1, 2, 1] {
            set.add(RData::A(Ipv4Addr::new(192, 0, 2, ip)));
        }
        assert_eq!(set.data.as_slice(), (1..=3).map(|ip| RData::A(Ipv4Addr::new(192, 0, 2, ip))).collect::<Vec<_>>());
        assert_eq!(set.data.capacity(), 3);
        let one = RecordSet::new(60, vec![RData::A(Ipv4Addr::new(192, 0, 2, 1)); 2]);
        assert!(!one.data.spilled(), "a set of one record is held inline");
    }
}
