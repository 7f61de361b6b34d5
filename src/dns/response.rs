//! A response being assembled from pre-rendered blocks: header, echoed question,
//! sections, OPT last; the client's size limit; where each block's owner is.
//!
//! A block (an RRset and its additional records, see `view::compress`) is rendered for a
//! canonical message with its owner as the question. [`Response::push`] copies it; when
//! it lands anywhere else, its compression pointers are moved ([`Reloc`]): the common
//! answer (question = owner, first section) is a plain copy.

use super::edns::OPTION_EXPIRE;
use super::view::compress::{self, canonical_start};
use super::wire::{self, Parsed, HEADER_LEN};

/// The UDP payload size we advertise and the most we send over UDP (DNS flag day 2020).
pub const EDNS_PAYLOAD: u16 = 1232;
const OPT_RR_LEN: usize = 11;

#[derive(Clone, Copy)]
pub enum Section {
    Answer = 1,
    Authority = 2,
}

/// Where the owner of a block is in the message.
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    /// Offset of a name equal to the owner (the question, one of its suffixes, a CNAME
    /// target in RDATA); for a wildcard, of the name it answers for.
    pub pos: usize,
    /// Length of the owner name the block was rendered for (the node's key).
    pub key_len: usize,
}

/// Where a run of a block's name labels went: to `new` in the message (copied there, or
/// replaced by a pointer to the same labels in the question).
#[derive(Clone, Copy, Default)]
struct Span {
    old: u16,
    len: u16,
    new: u16,
}

/// The most name spans [`Response::push`] tracks when it shortens names; a block with
/// more is copied without shortening.
const MAX_SPANS: usize = 16;

/// How the pointers of one block move to where it lands. Small and without a table: the
/// common answer is a plain copy, and the rest walks the few names it needs.
pub struct Reloc {
    identity: bool,
    /// Canonical and actual offset of the block's first byte.
    canonical: usize,
    actual: usize,
    owner: Owner,
    /// Actual length of the owner minus the rendered one (a wildcard answers for longer names).
    delta: usize,
    /// Names were shortened while copying: `spans[..n_spans]` tell where each name went.
    shortened: bool,
    n_spans: usize,
    spans: [Span; MAX_SPANS],
}

impl Reloc {
    fn new(msg: &[u8], owner: Owner, actual: usize) -> Option<Reloc> {
        let canonical = canonical_start(owner.key_len);
        let identity = owner.pos == HEADER_LEN && actual == canonical;
        let delta = if identity { 0 } else { compress::name_len(msg, owner.pos)?.checked_sub(owner.key_len)? };
        let spans = [Span::default(); MAX_SPANS];
        Some(Reloc { identity, canonical, actual, owner, delta, shortened: false, n_spans: 0, spans })
    }

    /// Where the canonical pointer target `target` is in the message `msg` (which holds
    /// everything before the block).
    fn map(&self, msg: &[u8], target: usize) -> Option<usize> {
        if target >= self.canonical {
            let o = target - self.canonical;
            if !self.shortened {
                return Some(o + self.actual);
            }
            let s =
                self.spans[..self.n_spans].iter().find(|s| (s.old as usize) <= o && o < (s.old + s.len) as usize)?;
            return Some(s.new as usize + (o - s.old as usize));
        }
        let k = target.checked_sub(HEADER_LEN).filter(|&k| k < self.owner.key_len)?;
        if k == 0 {
            return Some(self.owner.pos);
        }
        compress::suffix_at(msg, self.owner.pos, k + self.delta)
    }

    /// Moves the pointers of `count` RRs just copied to `msg[at..]`.
    fn apply(&self, msg: &mut [u8], at: usize, count: usize) -> bool {
        if self.identity {
            return true;
        }
        let (head, tail) = msg.split_at_mut(at);
        compress::relocate(tail, count, |t| self.map(head, t))
    }

    fn note(&mut self, span: Span) -> Option<()> {
        *self.spans.get_mut(self.n_spans)? = span;
        self.n_spans += 1;
        Some(())
    }
}

/// Copies `count` RRs of a block whose owner stands in the question behind the labels
/// `out[HEADER_LEN..owner.pos]`, moving their pointers; an RDATA name made of labels in
/// front of the owner that also stand in front of it in the question (the query name or
/// one of its suffixes: a name server of a referral asked for itself, the SOA's MNAME
/// asked for) becomes a pointer into the question, as a compressor with a table of the
/// whole message writes it. `None` if the block has too many names to track.
fn copy_shortening(out: &mut Vec<u8>, rrs: &[u8], count: usize, reloc: &mut Reloc) -> Option<()> {
    reloc.shortened = true;
    reloc.n_spans = 0;
    let mut pos = 0;
    for _ in 0..count {
        pos = copy_name(out, rrs, pos, reloc, false)?;
        let fixed = rrs.get(pos..pos + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let end = pos + 10 + u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        out.extend_from_slice(fixed);
        let rdata_start = out.len();
        let (skip, names) = compress::rdata_names(rtype);
        let mut at = pos + 10;
        out.extend_from_slice(rrs.get(at..at + skip)?);
        at += skip;
        for _ in 0..names {
            at = copy_name(out, rrs.get(..end)?, at, reloc, true)?;
        }
        out.extend_from_slice(rrs.get(at..end)?);
        let rdlen = u16::try_from(out.len() - rdata_start).ok()?;
        out[rdata_start - 2..rdata_start].copy_from_slice(&rdlen.to_be_bytes());
        pos = end;
    }
    Some(())
}

/// Copies the name at `src[at..]` (see [`copy_shortening`]); returns where it ends.
fn copy_name(out: &mut Vec<u8>, src: &[u8], at: usize, reloc: &mut Reloc, may_shorten: bool) -> Option<usize> {
    let mut end = at;
    while let 1..=63 = *src.get(end)? {
        end += 1 + src[end] as usize;
    }
    let labels = src.get(at..end)?;
    let pointer = match *src.get(end)? {
        0 => None,
        0xc0..=0xff => Some((u16::from_be_bytes([src[end], *src.get(end + 1)?]) & 0x3fff) as usize),
        _ => return None,
    };
    let next = end + if pointer.is_some() { 2 } else { 1 };
    if may_shorten && !labels.is_empty() && pointer == Some(HEADER_LEN) {
        // The question's labels in front of the owner, and where each one starts.
        let question = &out[HEADER_LEN..reloc.owner.pos];
        let mut j = 0;
        while j < question.len() {
            if question[j..].eq_ignore_ascii_case(labels) {
                let target = HEADER_LEN + j;
                reloc.note(Span { old: at as u16, len: labels.len() as u16, new: target as u16 })?;
                out.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
                return Some(next);
            }
            j += 1 + question[j] as usize;
        }
    }
    if !labels.is_empty() {
        reloc.note(Span { old: at as u16, len: labels.len() as u16, new: out.len() as u16 })?;
    }
    out.extend_from_slice(labels);
    match pointer {
        None => out.push(0),
        Some(t) => {
            let new = reloc.map(out, t).filter(|&t| t <= 0x3fff)?;
            out.extend_from_slice(&(0xc000 | new as u16).to_be_bytes());
        }
    }
    Some(next)
}

/// A response being written.
pub struct Response<'o> {
    pub out: &'o mut Vec<u8>,
    /// EDNS options for the OPT record (COOKIE, NSID).
    pub options: &'o [u8],
    /// The EXPIRE option's value (RFC 7314), for SOA answers to a query that asked.
    pub expire: Option<u32>,
    limit: usize,
    counts: [u16; 4],
    question_end: usize,
    /// DO bit to echo when the query carried OPT.
    opt: Option<bool>,
    truncated: bool,
}

impl<'o> Response<'o> {
    /// The header and the echoed question. RD and CD are echoed for QUERY only: for
    /// other opcodes they mean nothing and BIND clears them (genreport `opcodeflg`).
    pub fn start(out: &'o mut Vec<u8>, parsed: &Parsed<'_>, limit: usize) -> Self {
        let mut flags: u16 = 0x8000 | ((parsed.opcode as u16 & 0x0f) << 11);
        if parsed.opcode == 0 && parsed.recursion_desired {
            flags |= 0x0100;
        }
        if parsed.opcode == 0 && parsed.checking_disabled {
            flags |= 0x0010;
        }
        out.extend_from_slice(&parsed.id.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&[0; 8]);
        let mut counts = [0; 4];
        if let Some(q) = parsed.question {
            out.extend_from_slice(q.raw);
            counts[0] = 1;
        }
        let question_end = out.len();
        Response {
            out,
            options: &[],
            expire: None,
            limit,
            counts,
            question_end,
            opt: parsed.edns.map(|e| e.dnssec_ok),
            truncated: false,
        }
    }

    pub fn set_authoritative(&mut self, aa: bool) {
        if aa {
            self.out[2] |= 0x04;
        } else {
            self.out[2] &= !0x04;
        }
    }

    /// Clears TC (a BADCOOKIE slip has no records but is not truncated).
    pub fn clear_truncated(&mut self) {
        self.out[2] &= !0x02;
    }

    fn opt_len(&self) -> usize {
        match self.opt {
            Some(_) => OPT_RR_LEN + self.options.len() + if self.expire.is_some() { 8 } else { 0 },
            None => 0,
        }
    }

    fn fits(&self) -> bool {
        self.out.len() + self.opt_len() <= self.limit
    }

    /// Offset of the suffix at uncompressed offset `at` of the name at `pos`.
    pub fn suffix_pos(&self, pos: usize, at: usize) -> Option<usize> {
        if pos == HEADER_LEN {
            // The question name: plain labels.
            return Some(pos + at);
        }
        compress::suffix_at(self.out, pos, at)
    }

    /// Appends a block's `count` RRs; sets TC and empties the sections if the message
    /// would exceed the size limit. Returns where they start and how their pointers
    /// moved (for the additional records rendered with them).
    pub fn push(&mut self, section: Section, owner: Owner, rrs: &[u8], count: u16) -> Option<(usize, Reloc)> {
        if self.truncated || count == 0 {
            return None;
        }
        let at = self.out.len();
        let Some(mut reloc) = Reloc::new(self.out, owner, at) else {
            self.truncate();
            return None;
        };
        // The owner is a proper suffix of the question name: names may get shorter.
        let name_end = self.question_end.saturating_sub(4);
        let shortened = owner.pos > HEADER_LEN
            && owner.pos < name_end
            && copy_shortening(self.out, rrs, count as usize, &mut reloc).is_some();
        if !shortened {
            self.out.truncate(at);
            reloc.shortened = false;
            self.out.extend_from_slice(rrs);
            if !reloc.apply(self.out, at, count as usize) {
                self.truncate();
                return None;
            }
        }
        self.counts[section as usize] = self.counts[section as usize].saturating_add(count);
        if !self.fits() {
            self.truncate();
            return None;
        }
        Some((at, reloc))
    }

    /// Appends the additional records rendered with the block that `reloc` placed: all of
    /// them if they fit, else one RRset at a time while they fit (RFC 2181 9). A missing
    /// RRset whose owner is at or below `required_below` (in-domain glue of a referral,
    /// RFC 9471) sets TC instead.
    pub fn push_additional(&mut self, reloc: &Reloc, rrs: &[u8], count: u16, required_below: Option<&[u8]>) {
        if self.truncated || count == 0 {
            return;
        }
        let mark = self.out.len();
        self.out.extend_from_slice(rrs);
        if reloc.apply(self.out, mark, count as usize) && self.fits() {
            self.counts[3] = self.counts[3].saturating_add(count);
            return;
        }
        self.out.truncate(mark);
        let mut rest = rrs;
        while let Some((len, n)) = rrset_span(rest) {
            let at = self.out.len();
            self.out.extend_from_slice(&rest[..len]);
            if reloc.apply(self.out, at, n) && self.fits() {
                self.counts[3] = self.counts[3].saturating_add(n as u16);
            } else {
                let required = required_below.is_some_and(|cut| {
                    super::rr::read_name(self.out, at).is_none_or(|owner| wire::is_at_or_below(&owner, cut))
                });
                self.out.truncate(at);
                if required {
                    self.truncate();
                    return;
                }
            }
            rest = &rest[len..];
        }
    }

    /// TC=1 and nothing but the question (and OPT).
    pub fn truncate(&mut self) {
        self.truncated = true;
        self.out.truncate(self.question_end);
        self.counts[1..].fill(0);
        self.out[2] |= 0x02;
    }

    pub fn finish(self, rcode: u16) {
        self.out[3] = (self.out[3] & 0xf0) | (rcode & 0x0f) as u8;
        let mut counts = self.counts;
        if let Some(dnssec_ok) = self.opt {
            let ttl: u32 = (((rcode >> 4) as u32) << 24) | if dnssec_ok { 0x8000 } else { 0 };
            let expire_len = if self.expire.is_some() { 8 } else { 0 };
            self.out.push(0);
            self.out.extend_from_slice(&wire::TYPE_OPT.to_be_bytes());
            self.out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
            self.out.extend_from_slice(&ttl.to_be_bytes());
            self.out.extend_from_slice(&((self.options.len() + expire_len) as u16).to_be_bytes());
            self.out.extend_from_slice(self.options);
            if let Some(expire) = self.expire {
                self.out.extend_from_slice(&OPTION_EXPIRE.to_be_bytes());
                self.out.extend_from_slice(&4u16.to_be_bytes());
                self.out.extend_from_slice(&expire.to_be_bytes());
            }
            counts[3] = counts[3].saturating_add(1);
        }
        for (i, c) in counts.iter().enumerate() {
            self.out[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
    }
}

/// Length and RR count of the first RRset of `rrs` (consecutive RRs with the same owner
/// bytes and type: the rendering writes one name the same way each time).
fn rrset_span(rrs: &[u8]) -> Option<(usize, usize)> {
    let key = |at: usize| -> Option<(&[u8], u16)> {
        let end = super::rr::skip_name(rrs, at)?;
        Some((&rrs[at..end], u16::from_be_bytes([*rrs.get(end)?, *rrs.get(end + 1)?])))
    };
    let first = key(0)?;
    let mut len = compress::rrs_len(rrs, 1)?;
    let mut n = 1;
    while len < rrs.len() && key(len) == Some(first) {
        len += compress::rrs_len(&rrs[len..], 1)?;
        n += 1;
    }
    Some((len, n))
}
