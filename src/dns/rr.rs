//! A walker over every resource record of a message, for the rarer paths (zone transfer,
//! TSIG, NOTIFY, UPDATE) that need more than the query parser in `wire` reads. It follows
//! compression pointers (bounded) and never allocates except for names it is asked for.

use super::wire::{HEADER_LEN, MAX_NAME_LEN};

/// One resource record's position in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrPos {
    /// Where the RR (its owner name) starts.
    pub start: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: (usize, usize),
    /// 0 answer, 1 authority, 2 additional.
    pub section: u8,
}

/// The question (if one) and every RR of a message, in order.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// (name start, name end, qtype, qclass) per question.
    pub questions: Vec<(usize, usize, u16, u16)>,
    pub rrs: Vec<RrPos>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The end of the name starting at `pos` in the message (after its last label or pointer).
pub fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=63 => pos += 1 + len as usize,
            0xc0..=0xff => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
        if pos - start > MAX_NAME_LEN {
            return None;
        }
    }
}

/// The name at `pos`, decompressed and lowercased, in wire form.
pub fn read_name(msg: &[u8], mut pos: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(32);
    let mut hops = 0;
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => {
                out.push(0);
                return (out.len() <= MAX_NAME_LEN).then_some(out);
            }
            1..=63 => {
                let label = msg.get(pos + 1..pos + 1 + len as usize)?;
                out.push(len);
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                pos += 1 + len as usize;
            }
            0xc0..=0xff => {
                hops += 1;
                let target = (be16(msg, pos)? & 0x3fff) as usize;
                // Pointers must point backwards; with the hop limit this rules out loops.
                if hops > 64 || target >= pos {
                    return None;
                }
                pos = target;
            }
            _ => return None,
        }
        if out.len() > MAX_NAME_LEN {
            return None;
        }
    }
}

/// Walks the whole message; `None` if any part is malformed or bytes trail.
pub fn layout(msg: &[u8]) -> Option<Layout> {
    if msg.len() < HEADER_LEN {
        return None;
    }
    let counts = [be16(msg, 4)?, be16(msg, 6)?, be16(msg, 8)?, be16(msg, 10)?];
    let mut l = Layout::default();
    let mut pos = HEADER_LEN;
    for _ in 0..counts[0] {
        let end = skip_name(msg, pos)?;
        l.questions.push((pos, end, be16(msg, end)?, be16(msg, end + 2)?));
        pos = end + 4;
    }
    for (section, &count) in counts[1..].iter().enumerate() {
        for _ in 0..count {
            let start = pos;
            let name_end = skip_name(msg, pos)?;
            let rdlen = be16(msg, name_end + 8)? as usize;
            let rdata = (name_end + 10, name_end + 10 + rdlen);
            if rdata.1 > msg.len() {
                return None;
            }
            l.rrs.push(RrPos {
                start,
                rtype: be16(msg, name_end)?,
                class: be16(msg, name_end + 2)?,
                ttl: be32(msg, name_end + 4)?,
                rdata,
                section: section as u8,
            });
            pos = rdata.1;
        }
    }
    (pos == msg.len()).then_some(l)
}

/// The serial of an SOA RR's RDATA (MNAME and RNAME may be compressed).
pub fn soa_serial(msg: &[u8], rr: &RrPos) -> Option<u32> {
    let after_mname = skip_name(msg, rr.rdata.0)?;
    let after_rname = skip_name(msg, after_mname)?;
    (after_rname + 20 <= rr.rdata.1).then_some(())?;
    be32(msg, after_rname)
}
