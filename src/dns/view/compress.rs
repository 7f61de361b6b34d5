//! Name compression (RFC 1035 4.1.4) for pre-rendered answers, and the walks over
//! compressed RRs that answering and zone transfers need.
//!
//! An RRset is rendered once, as it would appear in the most common response: the
//! *canonical message* `header (12) | owner name (lowercase, the node's key) | QTYPE QCLASS
//! | RRs`. Every RR's owner is a pointer to offset 12 (the question name), names in RDATA
//! of NS, CNAME, PTR, MX and SOA are compressed against the owner's suffixes and against
//! the names written before them in the same block (RFC 3597 4: only these well-known
//! types; SRV targets are never compressed, RFC 2782). The additional-section records
//! rendered after a set point their owners into the set's RDATA and are never pointed
//! to themselves, so any subset of them can be sent.
//!
//! A query whose name is the owner (the common case) puts the question exactly where
//! the canonical message has it, so the block is copied as is. Anywhere else (a
//! referral from a cut above the name, a wildcard, a CNAME target, the SOA of a negative
//! answer, a later section) [`relocate`] rewrites the block's pointers: a pointer into
//! the block moves with it, a pointer to the owner or one of its suffixes goes to where
//! that name is in the actual message.

use std::collections::HashMap;

use crate::dns::rr;
use crate::dns::wire::HEADER_LEN;

/// RR types whose RDATA names may be compressed, and where those names are: bytes before
/// the first name and how many names follow back to back.
pub fn rdata_names(rtype: u16) -> (usize, usize) {
    match rtype {
        2 | 5 | 12 => (0, 1), // NS, CNAME, PTR
        15 => (2, 1),         // MX
        6 => (0, 2),          // SOA (the 20 octets after the names are not names)
        _ => (0, 0),
    }
}

/// Compression targets beyond this canonical offset are not recorded: answering may move
/// a block by up to a CNAME chain's length, and a pointer has 14 bits.
const MAX_TARGET: usize = 0x3fff - 4096;

/// The pointer to the question name (offset 12).
pub const OWNER_POINTER: [u8; 2] = [0xc0, HEADER_LEN as u8];

/// Offset of the block's first byte in the canonical message of an owner of `key_len`.
pub fn canonical_start(key_len: usize) -> usize {
    HEADER_LEN + key_len + 4
}

/// Writes names into a block with compression. Offsets are canonical-message offsets:
/// `buf[start]` is at [`canonical_start`].
pub struct Compressor<'k> {
    key: &'k [u8],
    /// Whether the owner is a wildcard: its full name (`*.x`) is never a target in RDATA,
    /// since answers put the query name there instead.
    wildcard: bool,
    start: usize,
    base: usize,
    table: Option<HashMap<Vec<u8>, u16>>,
    /// Whether names written now become targets (not in the additional section).
    pub register: bool,
}

impl<'k> Compressor<'k> {
    /// A compressor for the block that starts at `buf[start]`, owned by `key`.
    pub fn new(key: &'k [u8], start: usize) -> Compressor<'k> {
        Compressor {
            key,
            wildcard: key.starts_with(b"\x01*"),
            start,
            base: canonical_start(key.len()),
            table: None,
            register: true,
        }
    }

    fn table(&mut self) -> &mut HashMap<Vec<u8>, u16> {
        let (key, wildcard) = (self.key, self.wildcard);
        self.table.get_or_insert_with(|| {
            let mut t = HashMap::new();
            let mut at = 0;
            while let Some(&len) = key.get(at).filter(|&&l| l != 0) {
                if at > 0 || !wildcard {
                    t.insert(key[at..].to_vec(), (HEADER_LEN + at) as u16);
                }
                at += 1 + len as usize;
            }
            t
        })
    }

    /// Writes the owner of an RR: a pointer to the question name.
    pub fn owner(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&OWNER_POINTER);
    }

    /// Writes `name` (uncompressed lowercase wire form), compressed.
    pub fn name(&mut self, buf: &mut Vec<u8>, name: &[u8]) {
        let mut at = 0;
        let mut found = None;
        while let Some(&len) = name.get(at).filter(|&&l| l != 0) {
            if let Some(&p) = self.table().get(&name[at..]) {
                found = Some(p);
                break;
            }
            at += 1 + len as usize;
        }
        self.write(buf, name, at, found);
    }

    /// Writes `name` in full (a name that must not be compressed, such as an SRV
    /// target); later names may still point into it.
    pub fn literal_name(&mut self, buf: &mut Vec<u8>, name: &[u8]) {
        self.write(buf, name, name.len().saturating_sub(1), None);
    }

    /// Writes `name[..at]` as labels, then the pointer `found` or the root label.
    fn write(&mut self, buf: &mut Vec<u8>, name: &[u8], at: usize, found: Option<u16>) {
        let here = self.base + (buf.len() - self.start);
        if self.register {
            let mut l = 0;
            while l < at {
                if here + l <= MAX_TARGET {
                    let suffix = name[l..].to_vec();
                    self.table().entry(suffix).or_insert((here + l) as u16);
                }
                l += 1 + name[l] as usize;
            }
        }
        buf.extend_from_slice(&name[..at]);
        match found {
            Some(p) => buf.extend_from_slice(&(0xc000 | p).to_be_bytes()),
            None => buf.push(0),
        }
    }
}

/// Calls `f` with the offset of every compression pointer in the `count` RRs at the start
/// of `rrs` (owners and the RDATA names of [`rdata_names`]); returns the length of those
/// RRs, or `None` if they do not parse.
fn for_each_pointer(rrs: &[u8], count: usize, mut f: impl FnMut(usize) -> bool) -> Option<usize> {
    let mut pos = 0;
    for _ in 0..count {
        pos = name_pointer(rrs, pos, &mut f)?;
        let rtype = u16::from_be_bytes([*rrs.get(pos)?, *rrs.get(pos + 1)?]);
        let rdlen = u16::from_be_bytes([*rrs.get(pos + 8)?, *rrs.get(pos + 9)?]) as usize;
        let rdata = pos + 10;
        let end = rdata + rdlen;
        if end > rrs.len() {
            return None;
        }
        let (skip, names) = rdata_names(rtype);
        let mut at = rdata + skip;
        for _ in 0..names {
            at = name_pointer(&rrs[..end], at, &mut f)?;
        }
        pos = end;
    }
    Some(pos)
}

/// Steps over the name at `pos`, calling `f` on its pointer if it ends with one.
fn name_pointer(b: &[u8], mut pos: usize, f: &mut impl FnMut(usize) -> bool) -> Option<usize> {
    loop {
        let len = *b.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=63 => pos += 1 + len as usize,
            0xc0..=0xff => {
                b.get(pos + 1)?;
                return f(pos).then_some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Rewrites every pointer of the `count` RRs at the start of `rrs` to `map(target)`;
/// false if a target has no new place (the RRs are then unusable).
pub fn relocate(rrs: &mut [u8], count: usize, map: impl Fn(usize) -> Option<usize>) -> bool {
    let mut pos = 0;
    for _ in 0..count {
        // An RR has at most three pointers: its owner and two SOA names.
        let mut ptrs = [0usize; 3];
        let mut n = 0;
        let walked = for_each_pointer(&rrs[pos..], 1, |p| {
            let room = n < ptrs.len();
            if room {
                ptrs[n] = p;
                n += 1;
            }
            room
        });
        let Some(len) = walked else { return false };
        for &p in &ptrs[..n] {
            let at = pos + p;
            let v = (u16::from_be_bytes([rrs[at], rrs[at + 1]]) & 0x3fff) as usize;
            let Some(t) = map(v).filter(|&t| t <= 0x3fff) else { return false };
            rrs[at..at + 2].copy_from_slice(&(0xc000 | t as u16).to_be_bytes());
        }
        pos += len;
    }
    true
}

/// The length of the first `count` RRs of `rrs`.
pub fn rrs_len(rrs: &[u8], count: usize) -> Option<usize> {
    for_each_pointer(rrs, count, |_| true)
}

/// The block's RRs uncompressed, each without its owner (TYPE .. RDATA), for zone
/// transfers: `block` is rendered for the owner `key`.
pub fn expand(key: &[u8], block: &[u8], count: usize, mut f: impl FnMut(&[u8]) -> bool) -> bool {
    let rtype = block.get(2..4).map_or(0, |t| u16::from_be_bytes([t[0], t[1]]));
    if rdata_names(rtype).1 == 0 {
        // No names in the RDATA (A, AAAA, TXT...): each RR is its owner pointer and the rest.
        let mut pos = 0;
        for _ in 0..count {
            let Some(rdlen) = block.get(pos + 10..pos + 12).map(|l| u16::from_be_bytes([l[0], l[1]]) as usize) else {
                return false;
            };
            let Some(rr) = block.get(pos + 2..pos + 12 + rdlen) else { return false };
            if !f(rr) {
                return false;
            }
            pos += 12 + rdlen;
        }
        return true;
    }
    let mut msg = Vec::with_capacity(canonical_start(key.len()) + block.len());
    msg.extend_from_slice(&[0; HEADER_LEN]);
    msg.extend_from_slice(key);
    msg.extend_from_slice(&[0; 4]);
    let mut pos = msg.len();
    msg.extend_from_slice(block);
    let mut rr_buf = Vec::with_capacity(512);
    for _ in 0..count {
        let Some(after_owner) = rr::skip_name(&msg, pos) else { return false };
        let Some(fixed) = msg.get(after_owner..after_owner + 10) else { return false };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let (rdata, end) = (after_owner + 10, after_owner + 10 + rdlen);
        if end > msg.len() {
            return false;
        }
        rr_buf.clear();
        rr_buf.extend_from_slice(&fixed[..8]);
        rr_buf.extend_from_slice(&[0, 0]);
        let (skip, names) = rdata_names(rtype);
        let mut at = rdata;
        rr_buf.extend_from_slice(&msg[at..at + skip.min(rdlen)]);
        at += skip.min(rdlen);
        for _ in 0..names {
            let (Some(name), Some(next)) = (rr::read_name(&msg, at), rr::skip_name(&msg, at)) else { return false };
            rr_buf.extend_from_slice(&name);
            at = next;
        }
        rr_buf.extend_from_slice(&msg[at.min(end)..end]);
        let len = u16::try_from(rr_buf.len() - 10).unwrap_or(u16::MAX);
        rr_buf[8..10].copy_from_slice(&len.to_be_bytes());
        if !f(&rr_buf) {
            return false;
        }
        pos = end;
    }
    true
}

/// Walks the name at `msg[pos..]`, pointers followed (backwards only, bounded), calling
/// `f(offset in the uncompressed name, position in msg)` for each label and the root;
/// stops when `f` returns false. Returns the uncompressed length, or `None` if the name
/// is malformed (or `f` stopped the walk).
fn walk(msg: &[u8], mut pos: usize, mut f: impl FnMut(usize, usize) -> bool) -> Option<usize> {
    let mut off = 0usize;
    let mut hops = 0;
    loop {
        let len = *msg.get(pos)? as usize;
        match len {
            0 => {
                return f(off, pos).then_some(off + 1);
            }
            1..=63 => {
                if !f(off, pos) {
                    return None;
                }
                off += 1 + len;
                pos += 1 + len;
            }
            0xc0..=0xff => {
                hops += 1;
                let target = (u16::from_be_bytes([len as u8, *msg.get(pos + 1)?]) & 0x3fff) as usize;
                if hops > 64 || target >= pos {
                    return None;
                }
                pos = target;
            }
            _ => return None,
        }
        if off > 255 {
            return None;
        }
    }
}

/// The uncompressed length of the name at `msg[pos..]`.
pub fn name_len(msg: &[u8], pos: usize) -> Option<usize> {
    walk(msg, pos, |_, _| true)
}

/// Where in `msg` the label at uncompressed offset `at` of the name at `pos` is.
pub fn suffix_at(msg: &[u8], pos: usize, at: usize) -> Option<usize> {
    let mut found = None;
    walk(msg, pos, |off, p| {
        if off == at {
            found = Some(p);
        }
        off < at
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_block(key: &[u8], targets: &[&[u8]]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut c = Compressor::new(key, 0);
        for t in targets {
            c.owner(&mut buf);
            buf.extend_from_slice(&[0, 2, 0, 1, 0, 0, 0, 60, 0, 0]);
            let start = buf.len();
            c.name(&mut buf, t);
            let len = (buf.len() - start) as u16;
            buf[start - 2..start].copy_from_slice(&len.to_be_bytes());
        }
        buf
    }

    #[test]
    fn names_compress_against_the_owner_and_each_other() {
        let key = b"\x03sub\x07example\x00";
        let block =
            ns_block(key, &[b"\x03ns1\x03sub\x07example\x00", b"\x03ns2\x03sub\x07example\x00", b"\x01x\x03net\x00"]);
        // ns1 -> label + pointer to the owner (12); ns2 -> label + pointer to the owner too.
        let first_rdata = 2 + 10;
        assert_eq!(&block[first_rdata..first_rdata + 6], b"\x03ns1\xc0\x0c");
        let mut out = Vec::new();
        assert!(expand(key, &block, 3, |rr| {
            out.push(rr[10..].to_vec());
            true
        }));
        assert_eq!(
            out,
            vec![
                b"\x03ns1\x03sub\x07example\x00".to_vec(),
                b"\x03ns2\x03sub\x07example\x00".to_vec(),
                b"\x01x\x03net\x00".to_vec()
            ]
        );
        assert_eq!(rrs_len(&block, 3), Some(block.len()));
    }

    #[test]
    fn a_wildcard_owner_is_not_a_target_but_its_suffixes_are() {
        let key = b"\x01*\x01w\x00";
        let mut buf = Vec::new();
        let mut c = Compressor::new(key, 0);
        c.name(&mut buf, b"\x01*\x01w\x00");
        assert_eq!(buf, b"\x01*\xc0\x0e");
    }

    #[test]
    fn relocation_moves_block_pointers_and_maps_owner_pointers() {
        let key = b"\x03sub\x07example\x00";
        let mut block = ns_block(key, &[b"\x03ns1\x03sub\x07example\x00", b"\x01x\x03net\x00", b"\x01y\x03net\x00"]);
        let base = canonical_start(key.len());
        assert!(relocate(&mut block, 3, |t| Some(if t >= base { t - base + 100 } else { t + 7 })));
        // The owner pointers went from 12 to 19.
        assert_eq!(&block[..2], b"\xc0\x13");
        let third_rdata_ptr = block.len() - 2;
        let v = u16::from_be_bytes([block[third_rdata_ptr], block[third_rdata_ptr + 1]]) & 0x3fff;
        assert!(v >= 100, "{v}");
        assert!(!relocate(&mut block, 3, |_| None));
    }
}
