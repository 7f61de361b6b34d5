//! One owner name of a [`ZoneView`](super::snapshot::ZoneView) in one allocation: its
//! lowercase wire name (the index key), its flags and every RRset it answers with,
//! pre-rendered.
//!
//! Why one allocation: a zone's owners are most of its memory. As a struct of boxes
//! (key, set list, wire and additional section each in its own `Box`, a 56-byte entry in
//! the hash table) an owner with one A record took ~190 bytes of heap; packed it takes
//! one 64-byte chunk and a 16-byte table entry. A lookup also touches one cache line
//! for the key and the answer instead of three.
//!
//! Layout (integers little-endian):
//! ```text
//! key_len u8 | key | flags u8 | children u32 | chase_len u8 | chase
//! then per RRset, sorted by type code:
//! rtype u16 | count u16 | additional_count u16 | wire_len u32 | additional_len u32 | wire | additional
//! ```
//! `chase_len` 0 means no in-zone CNAME target (a wire name is at least one byte).
//! Only [`NodeBuilder`] writes this layout, and it is never read from outside input.

use std::fmt;

const FLAG_CUT: u8 = 1;
const SET_HEADER: usize = 2 + 2 + 2 + 4 + 4;

/// One RRset ready to copy into a response: its RRs compressed as in the canonical
/// message of `compress` (owner = a pointer to the question name at offset 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderedSet<'a> {
    pub rtype: u16,
    pub count: u16,
    pub wire: &'a [u8],
    /// Additional-section records (A/AAAA of in-zone NS/MX/SRV targets), rendered right
    /// after `wire` (their owners point into it), one RRset after the other. For NS at a
    /// zone cut these are the glue, the in-domain glue first.
    pub additional: &'a [u8],
    pub additional_count: u16,
}

/// What the zone holds at one owner name. No sets is an empty non-terminal: the name
/// exists (NODATA, not NXDOMAIN) and blocks wildcard synthesis below it.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeView(Box<[u8]>);

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl NodeView {
    /// An empty non-terminal (or an apex without records yet).
    pub fn empty(key: &[u8], children: u32) -> NodeView {
        let mut node = NodeBuilder::new(key, false, None).finish();
        node.set_children(children);
        node
    }

    /// The lowercase wire name this node is stored under.
    pub fn key(&self) -> &[u8] {
        &self.0[1..1 + self.0[0] as usize]
    }

    fn flags_at(&self) -> usize {
        1 + self.0[0] as usize
    }

    /// NS below the apex: a delegation point.
    pub fn is_cut(&self) -> bool {
        self.0[self.flags_at()] & FLAG_CUT != 0
    }

    /// Owner names (or empty non-terminals) one label below this one, so an incremental
    /// update knows when an empty non-terminal goes away.
    pub fn children(&self) -> u32 {
        u32_at(&self.0, self.flags_at() + 1)
    }

    pub fn set_children(&mut self, children: u32) {
        let at = self.flags_at() + 1;
        self.0[at..at + 4].copy_from_slice(&children.to_le_bytes());
    }

    fn chase_at(&self) -> usize {
        self.flags_at() + 5
    }

    /// The CNAME target in lowercase wire form when the node is a CNAME pointing into
    /// this zone (so the chain is followed).
    pub fn cname_chase(&self) -> Option<&[u8]> {
        let at = self.chase_at();
        let len = self.0[at] as usize;
        (len > 0).then(|| &self.0[at + 1..at + 1 + len])
    }

    fn sets_at(&self) -> usize {
        let at = self.chase_at();
        at + 1 + self.0[at] as usize
    }

    /// The RRsets, sorted by type code.
    pub fn sets(&self) -> Sets<'_> {
        Sets { rest: &self.0[self.sets_at()..] }
    }

    pub fn has_sets(&self) -> bool {
        self.sets_at() < self.0.len()
    }

    pub fn set(&self, rtype: u16) -> Option<RenderedSet<'_>> {
        self.sets().find(|s| s.rtype == rtype)
    }

    /// Resource records in all sets.
    pub fn record_count(&self) -> usize {
        self.sets().map(|s| s.count as usize).sum()
    }
}

impl fmt::Debug for NodeView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeView")
            .field("key", &self.key())
            .field("is_cut", &self.is_cut())
            .field("children", &self.children())
            .field("cname_chase", &self.cname_chase())
            .field("sets", &self.sets().collect::<Vec<_>>())
            .finish()
    }
}

/// The RRsets of a [`NodeView`], in order.
pub struct Sets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Sets<'a> {
    type Item = RenderedSet<'a>;

    fn next(&mut self) -> Option<RenderedSet<'a>> {
        let b = self.rest;
        if b.len() < SET_HEADER {
            return None;
        }
        let wire_len = u32_at(b, 6) as usize;
        let add_len = u32_at(b, 10) as usize;
        let (wire, tail) = b[SET_HEADER..].split_at(wire_len);
        let (additional, rest) = tail.split_at(add_len);
        self.rest = rest;
        Some(RenderedSet { rtype: u16_at(b, 0), count: u16_at(b, 2), wire, additional, additional_count: u16_at(b, 4) })
    }
}

/// Writes one [`NodeView`]; sets must be added in type-code order.
pub struct NodeBuilder {
    buf: Vec<u8>,
}

impl NodeBuilder {
    /// `key` and `chase` are wire names (at most 255 octets).
    pub fn new(key: &[u8], is_cut: bool, chase: Option<&[u8]>) -> NodeBuilder {
        let chase = chase.unwrap_or_default();
        let mut buf = Vec::with_capacity(64);
        buf.push(key.len() as u8);
        buf.extend_from_slice(key);
        buf.push(if is_cut { FLAG_CUT } else { 0 });
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.push(chase.len() as u8);
        buf.extend_from_slice(chase);
        NodeBuilder { buf }
    }

    /// Adds an RRset: `render` appends its RRs, then their additional-section RRs, and
    /// returns (RRs, where its RRs end in the buffer it was given, additional RRs).
    pub fn set(&mut self, rtype: u16, render: impl FnOnce(&mut Vec<u8>) -> (usize, usize, usize)) {
        let head = self.buf.len();
        self.buf.extend_from_slice(&[0; SET_HEADER]);
        let (count, wire_end, add_count) = render(&mut self.buf);
        let wire_len = (wire_end - head - SET_HEADER) as u32;
        let add_len = (self.buf.len() - wire_end) as u32;
        let h = &mut self.buf[head..head + SET_HEADER];
        h[0..2].copy_from_slice(&rtype.to_le_bytes());
        h[2..4].copy_from_slice(&u16::try_from(count).unwrap_or(u16::MAX).to_le_bytes());
        h[4..6].copy_from_slice(&u16::try_from(add_count).unwrap_or(u16::MAX).to_le_bytes());
        h[6..10].copy_from_slice(&wire_len.to_le_bytes());
        h[10..14].copy_from_slice(&add_len.to_le_bytes());
    }

    /// The node, in an allocation of exactly its size.
    pub fn finish(self) -> NodeView {
        NodeView(self.buf.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_reads_back_what_was_written() {
        let key = b"\x03www\x07example\x04test\x00";
        let chase = b"\x01a\x07example\x04test\x00";
        let mut b = NodeBuilder::new(key, true, Some(chase));
        b.set(1, |w| {
            w.extend_from_slice(&[1; 14]);
            w.extend_from_slice(&[2; 14]);
            (2, w.len(), 0)
        });
        b.set(2, |w| {
            w.extend_from_slice(&[3; 20]);
            let end = w.len();
            w.extend_from_slice(&[4; 30]);
            (1, end, 1)
        });
        let mut node = b.finish();
        node.set_children(7);
        assert_eq!(node.key(), key);
        assert!(node.is_cut());
        assert_eq!(node.children(), 7);
        assert_eq!(node.cname_chase(), Some(chase.as_slice()));
        let sets: Vec<_> = node.sets().collect();
        assert_eq!(sets.len(), 2);
        assert_eq!((sets[0].rtype, sets[0].count, sets[0].wire.len(), sets[0].additional), (1, 2, 28, &[][..]));
        assert_eq!(
            node.set(2).map(|s| (s.count, s.wire, s.additional, s.additional_count)),
            Some((1, &[3; 20][..], &[4; 30][..], 1))
        );
        assert_eq!(node.set(5), None);
        assert_eq!(node.record_count(), 3);
        assert_eq!(node.0.len(), 1 + key.len() + 1 + 4 + 1 + chase.len() + 2 * SET_HEADER + 28 + 20 + 30);
    }

    #[test]
    fn an_empty_non_terminal_has_no_sets_and_no_chase() {
        let node = NodeView::empty(b"\x04test\x00", 3);
        assert_eq!((node.key(), node.children(), node.is_cut()), (&b"\x04test\x00"[..], 3, false));
        assert!(!node.has_sets() && node.cname_chase().is_none() && node.sets().next().is_none());
    }
}
