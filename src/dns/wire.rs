//! A strict, allocation-free parser for incoming DNS queries (RFC 1035 4.1, RFC 6891).
//!
//! It borrows from the packet: the question is echoed byte for byte (so the client's
//! 0x20 case survives) and looked up after lowercasing into a stack buffer. Every loop
//! advances through the packet or is bounded by a count from the header, so a hostile
//! packet costs at most one pass over its bytes.

/// DNS header length.
pub const HEADER_LEN: usize = 12;
/// Longest name in wire format (RFC 1035 3.1).
pub const MAX_NAME_LEN: usize = 255;

pub const TYPE_OPT: u16 = 41;

/// Why a packet gets no answer at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than a header: there is no ID to answer to.
    Short,
    /// QR=1: answering responses invites reflection loops.
    Response,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Short => "short",
            DropReason::Response => "response",
        }
    }
}

/// The EDNS(0) OPT record of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns<'a> {
    pub version: u8,
    pub dnssec_ok: bool,
    pub udp_payload_size: u16,
    /// The OPT RDATA: a validated sequence of (code, length, data) options.
    pub options: &'a [u8],
}

/// The question, borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// QNAME in wire format, original case, ending with the root label.
    pub name: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    /// QNAME + QTYPE + QCLASS exactly as received, for the echo.
    pub raw: &'a [u8],
}

/// A query that parsed far enough to be answered (possibly with an error rcode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    /// `None` when QDCOUNT != 1 or the question did not parse.
    pub question: Option<Question<'a>>,
    pub edns: Option<Edns<'a>>,
    /// Set when the packet is malformed: answer FORMERR.
    pub malformed: bool,
}

/// Parses a query. `Err` means drop silently; `Ok` with `malformed` means FORMERR.
pub fn parse(packet: &[u8]) -> Result<Parsed<'_>, DropReason> {
    if packet.len() < HEADER_LEN {
        return Err(DropReason::Short);
    }
    let flags = be16(packet, 2);
    if flags & 0x8000 != 0 {
        return Err(DropReason::Response);
    }
    let mut parsed = Parsed {
        id: be16(packet, 0),
        opcode: ((flags >> 11) & 0x0f) as u8,
        recursion_desired: flags & 0x0100 != 0,
        checking_disabled: flags & 0x0010 != 0,
        question: None,
        edns: None,
        malformed: false,
    };
    let counts = [be16(packet, 4), be16(packet, 6), be16(packet, 8), be16(packet, 10)];
    parsed.malformed = parse_sections(packet, counts, &mut parsed).is_none();
    Ok(parsed)
}

/// Fills in question and EDNS; `None` on any structural error.
fn parse_sections<'a>(packet: &'a [u8], counts: [u16; 4], out: &mut Parsed<'a>) -> Option<()> {
    let [qd, an, ns, ar] = counts;
    let mut pos = HEADER_LEN;
    if qd == 1 {
        let (question, next) = parse_question(packet, pos)?;
        out.question = Some(question);
        pos = next;
    } else if out.opcode == 0 || qd > 1 {
        // A QUERY needs exactly one question (RFC 9619); other opcodes may have none.
        return None;
    }
    // An IXFR query carries the client's SOA in the authority section (RFC 1995 3).
    let ixfr = out.question.is_some_and(|q| q.qtype == 251);
    if out.opcode == 0 && (an != 0 || (ns != 0 && !(ixfr && ns == 1))) {
        return None;
    }
    for _ in 0..(an as u32 + ns as u32) {
        pos = skip_rr(packet, pos)?.end;
    }
    for _ in 0..ar {
        let rr = skip_rr(packet, pos)?;
        if rr.rtype == TYPE_OPT {
            if out.edns.is_some() || rr.owner_len != 1 || packet[pos] != 0 {
                return None;
            }
            out.edns = Some(parse_opt(packet, &rr)?);
        }
        pos = rr.end;
    }
    (pos == packet.len()).then_some(())
}

fn parse_question(packet: &[u8], start: usize) -> Option<(Question<'_>, usize)> {
    let name_end = question_name_end(packet, start)?;
    let end = name_end.checked_add(4)?;
    if end > packet.len() {
        return None;
    }
    Some((
        Question {
            name: &packet[start..name_end],
            qtype: be16(packet, name_end),
            qclass: be16(packet, name_end + 2),
            raw: &packet[start..end],
        },
        end,
    ))
}

/// End of an uncompressed name starting at `start`. Pointers and extended label types
/// are refused: a question has no earlier name to point to.
fn question_name_end(packet: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let len = *packet.get(pos)? as usize;
        if len == 0 {
            let end = pos + 1;
            return (end - start <= MAX_NAME_LEN).then_some(end);
        }
        if len > 63 {
            return None;
        }
        pos += 1 + len;
        if pos - start >= MAX_NAME_LEN {
            return None;
        }
    }
}

struct RrSpan {
    owner_len: usize,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata_start: usize,
    end: usize,
}

/// Steps over one resource record without following compression pointers (a pointer
/// ends a name, so there is nothing to loop on).
fn skip_rr(packet: &[u8], start: usize) -> Option<RrSpan> {
    let mut pos = start;
    loop {
        let len = *packet.get(pos)?;
        match len {
            0 => {
                pos += 1;
                break;
            }
            1..=63 => pos += 1 + len as usize,
            0xc0..=0xff => {
                packet.get(pos + 1)?;
                pos += 2;
                break;
            }
            _ => return None,
        }
        if pos - start > MAX_NAME_LEN {
            return None;
        }
    }
    let fixed_end = pos.checked_add(10)?;
    if fixed_end > packet.len() {
        return None;
    }
    let rdlen = be16(packet, pos + 8) as usize;
    let end = fixed_end + rdlen;
    if end > packet.len() {
        return None;
    }
    Some(RrSpan {
        owner_len: pos - start,
        rtype: be16(packet, pos),
        class: be16(packet, pos + 2),
        ttl: u32::from_be_bytes([packet[pos + 4], packet[pos + 5], packet[pos + 6], packet[pos + 7]]),
        rdata_start: fixed_end,
        end,
    })
}

/// RFC 6891 6.1.2/6.1.3: CLASS is the payload size, TTL holds extended rcode, version
/// and flags; RDATA is a list of options that must exactly fill it.
fn parse_opt<'a>(packet: &'a [u8], rr: &RrSpan) -> Option<Edns<'a>> {
    let options = &packet[rr.rdata_start..rr.end];
    let mut pos = 0;
    while pos < options.len() {
        let header_end = pos + 4;
        if header_end > options.len() {
            return None;
        }
        pos = header_end + be16(options, pos + 2) as usize;
    }
    if pos != options.len() {
        return None;
    }
    Some(Edns { version: (rr.ttl >> 16) as u8, dnssec_ok: rr.ttl & 0x8000 != 0, udp_payload_size: rr.class, options })
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Lowercases a wire-format name into `buf`, returning the used prefix.
/// The name must come from [`parse`], which bounds it to 255 octets.
pub fn lowercase_name<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME_LEN]) -> &'b [u8] {
    let n = name.len().min(MAX_NAME_LEN);
    for (dst, src) in buf[..n].iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    &buf[..n]
}

/// Offsets of each label in a wire name (the suffixes of the name), longest first,
/// root excluded. Returns how many were written.
pub fn label_offsets(name: &[u8], out: &mut [u8; 128]) -> usize {
    let mut count = 0;
    let mut pos = 0usize;
    while let Some(&len) = name.get(pos) {
        if len == 0 || count == out.len() || pos > u8::MAX as usize {
            break;
        }
        out[count] = pos as u8;
        count += 1;
        pos += 1 + len as usize;
    }
    count
}

/// Whether the lowercase wire name `name` equals `ancestor` or lies below it (the
/// comparison is at label boundaries: a label may hold any octet).
pub fn is_at_or_below(name: &[u8], ancestor: &[u8]) -> bool {
    let Some(start) = name.len().checked_sub(ancestor.len()) else { return false };
    let mut pos = 0;
    while pos < start {
        match name.get(pos) {
            Some(&len) if len != 0 => pos += 1 + len as usize,
            _ => return false,
        }
    }
    pos == start && &name[start..] == ancestor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(qd: u16, ar: u16, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, qd as u8, 0, 0, 0, 0, 0, ar as u8];
        p[4] = (qd >> 8) as u8;
        p.extend_from_slice(body);
        p
    }

    const Q: &[u8] = b"\x03www\x07Example\x04test\x00\x00\x01\x00\x01";

    #[test]
    fn plain_query_parses_with_original_case() {
        let p = query(1, 0, Q);
        let parsed = parse(&p).unwrap();
        assert!(!parsed.malformed);
        let q = parsed.question.unwrap();
        assert_eq!(q.name, &Q[..18]);
        assert_eq!((q.qtype, q.qclass), (1, 1));
        let mut buf = [0; MAX_NAME_LEN];
        assert_eq!(lowercase_name(q.name, &mut buf), b"\x03www\x07example\x04test\x00");
    }

    #[test]
    fn short_packets_and_responses_are_dropped() {
        assert_eq!(parse(&[0; 11]), Err(DropReason::Short));
        let mut p = query(1, 0, Q);
        p[2] |= 0x80;
        assert_eq!(parse(&p), Err(DropReason::Response));
    }

    #[test]
    fn structural_errors_are_malformed() {
        let mut with_ptr = b"\x03www\xc0\x0c".to_vec();
        with_ptr.extend_from_slice(&[0, 1, 0, 1]);
        let long_label = [&[64u8][..], &[b'a'; 64], &[0, 0, 1, 0, 1]].concat();
        let mut trailing = Q.to_vec();
        trailing.push(0);
        for p in [
            query(0, 0, b""),
            query(2, 0, &[Q, Q].concat()),
            query(1, 0, &with_ptr),
            query(1, 0, &long_label),
            query(1, 0, &trailing),
            query(1, 0, &Q[..Q.len() - 1]),
            query(1, 1, Q),
        ] {
            assert!(parse(&p).unwrap().malformed, "{p:?}");
        }
    }

    #[test]
    fn opt_is_read_and_checked() {
        let opt = b"\x00\x00\x29\x04\xd0\x00\x01\x80\x00\x00\x04\x00\x0a\x00\x00";
        let p = query(1, 1, &[Q, opt].concat());
        let e = parse(&p).unwrap().edns.unwrap();
        assert_eq!((e.version, e.dnssec_ok, e.udp_payload_size), (1, true, 1232));
        // Option length running past RDATA.
        let bad = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x09";
        assert!(parse(&query(1, 1, &[Q, bad].concat())).unwrap().malformed);
        // Two OPT records.
        assert!(parse(&query(1, 2, &[Q, opt, opt].concat())).unwrap().malformed);
    }

    #[test]
    fn below_is_decided_at_label_boundaries() {
        assert!(is_at_or_below(b"\x01a\x02bc\x00", b"\x02bc\x00"));
        assert!(is_at_or_below(b"\x02bc\x00", b"\x02bc\x00"));
        assert!(is_at_or_below(b"\x02bc\x00", b"\x00"));
        // The octets of `\x02bc\x00` inside one label are not the name bc.
        assert!(!is_at_or_below(b"\x04a\x02bc\x00", b"\x02bc\x00"));
        assert!(!is_at_or_below(b"\x02bc\x00", b"\x01a\x02bc\x00"));
    }

    #[test]
    fn label_offsets_walk_suffixes() {
        let mut offs = [0; 128];
        let n = label_offsets(b"\x01a\x02bc\x00", &mut offs);
        assert_eq!(&offs[..n], &[0, 2]);
    }
}
