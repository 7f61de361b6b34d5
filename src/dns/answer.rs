//! Authoritative answering over a [`DnsSnapshot`]: query bytes in, response bytes out.
//!
//! The response is assembled from the snapshot's pre-rendered RRsets. Owner names are
//! compression pointers into the echoed question wherever the owner is the query name or
//! one of its suffixes (apex, zone cut, synthesized wildcard owner), and CNAME targets in
//! the zone are written as their labels below the apex plus a pointer to the apex.

use super::cookie::CookieStatus;
use super::edns::{self, EdnsPolicy};
use super::stats::{self, Transport};
use super::wire::{self, Parsed, Question, HEADER_LEN, MAX_NAME_LEN};
use crate::dns::view::snapshot::{DnsSnapshot, NodeView, RenderedSet, ZoneView};

/// The UDP payload size we advertise and the most we send over UDP (DNS flag day 2020).
pub const EDNS_PAYLOAD: u16 = 1232;
/// Longest CNAME chain followed inside a zone.
pub const MAX_CNAME_CHAIN: usize = 8;

pub use crate::model::rcode;

const QTYPE_NS: u16 = 2;
const QTYPE_CNAME: u16 = 5;
const QTYPE_SOA: u16 = 6;
const QTYPE_DS: u16 = 43;
const QTYPE_IXFR: u16 = 251;
const QTYPE_AXFR: u16 = 252;
const QTYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
const OPT_RR_LEN: usize = 11;

/// Where a query came from, as far as answering cares.
#[derive(Clone, Copy)]
pub struct QueryContext<'p> {
    pub transport: Transport,
    /// The client's address (cookies are bound to it).
    pub client: Option<std::net::IpAddr>,
    /// NSID and cookies; `None` answers without them.
    pub policy: Option<&'p EdnsPolicy>,
    /// Unix seconds, for cookie timestamps.
    pub now: u32,
    /// Rate limiting decided to send a minimal response instead (see `rrl`).
    pub slip: Option<Slip>,
}

/// A minimal response instead of the answer (RFC 8906 compatible: OPT kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slip {
    /// TC=1, no records: the client retries over TCP.
    Truncate,
    /// BADCOOKIE with a fresh server cookie: the client retries with it.
    BadCookie,
}

impl std::fmt::Debug for QueryContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryContext({:?}, {:?})", self.transport, self.client)
    }
}

impl QueryContext<'static> {
    pub fn udp() -> Self {
        QueryContext { transport: Transport::Udp, client: None, policy: None, now: 0, slip: None }
    }
    pub fn tcp() -> Self {
        QueryContext { transport: Transport::Tcp, client: None, policy: None, now: 0, slip: None }
    }
}

impl<'p> QueryContext<'p> {
    /// The same context for `client`, with this node's EDNS policy.
    pub fn with_policy<'q>(self, client: std::net::IpAddr, policy: &'q EdnsPolicy) -> QueryContext<'q> {
        QueryContext { client: Some(client), policy: Some(policy), now: super::cookie::unix_now(), ..self }
    }
}

/// What answering decided, for the transports (rate limiting, metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rcode: u16,
    pub cookie: CookieStatus,
}

/// Answers one query. `None` means drop the packet without a response.
pub fn answer(snapshot: &DnsSnapshot, query: &[u8], ctx: &QueryContext) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    answer_into(snapshot, query, ctx, &mut out).then_some(out)
}

/// Like [`answer`], writing into a caller-owned buffer (cleared first) so the transports
/// can reuse one allocation. Returns false when the packet is to be dropped.
pub fn answer_into(snapshot: &DnsSnapshot, query: &[u8], ctx: &QueryContext, out: &mut Vec<u8>) -> bool {
    answer_outcome(snapshot, query, ctx, out).is_some()
}

/// Like [`answer_into`], telling what was answered; `None` means drop.
pub fn answer_outcome(snapshot: &DnsSnapshot, query: &[u8], ctx: &QueryContext, out: &mut Vec<u8>) -> Option<Outcome> {
    out.clear();
    let parsed = match wire::parse(query) {
        Ok(p) => p,
        Err(reason) => {
            stats::count_drop(reason);
            return None;
        }
    };
    let udp = ctx.transport == Transport::Udp;
    let edns = edns::prepare(&parsed, ctx.policy, ctx.client, udp, ctx.now);
    let limit = match (ctx.transport, parsed.edns) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, Some(e)) => e.udp_payload_size.clamp(512, EDNS_PAYLOAD) as usize,
        (Transport::Udp, None) => 512,
    };
    let mut resp = Response::start(out, &parsed, limit);
    resp.options = edns.options.as_slice();
    let mut rcode = respond(snapshot, &parsed, &mut resp, edns.forced);
    match ctx.slip {
        None => {}
        Some(Slip::Truncate) => resp.truncate(),
        Some(Slip::BadCookie) => {
            resp.truncate();
            resp.out[2] &= !0x02;
            rcode = edns::BADCOOKIE;
        }
    }
    resp.finish(rcode);
    stats::count_query(parsed.question.map(|q| q.qtype), rcode, ctx.transport);
    Some(Outcome { rcode, cookie: edns.cookie })
}

fn respond(snapshot: &DnsSnapshot, parsed: &Parsed<'_>, resp: &mut Response<'_>, forced: Option<u16>) -> u16 {
    if parsed.malformed {
        return rcode::FORMERR;
    }
    if parsed.opcode != 0 {
        return rcode::NOTIMP;
    }
    if parsed.edns.is_some_and(|e| e.version > 0) {
        return rcode::BADVERS;
    }
    if let Some(r) = forced {
        return r;
    }
    let Some(q) = parsed.question else { return rcode::FORMERR };
    if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
        return rcode::REFUSED;
    }
    // Zone transfers are served over TCP by `xfr`, before this function. AXFR over UDP
    // is not defined (RFC 5936 4.2): REFUSED.
    if q.qtype == QTYPE_AXFR {
        return rcode::REFUSED;
    }
    let mut lower_buf = [0u8; MAX_NAME_LEN];
    let qname = wire::lowercase_name(q.name, &mut lower_buf);
    let mut offsets = [0u8; 128];
    let n = wire::label_offsets(qname, &mut offsets);
    let Some((zone, apex_off)) = snapshot.find_zone(qname, &offsets[..n]) else {
        return rcode::REFUSED;
    };
    resp.set_authoritative(true);
    if q.qtype == QTYPE_IXFR {
        // IXFR over UDP: the single current SOA tells the client to retry over TCP if it
        // is behind (RFC 1995 2). Only for a zone apex.
        if apex_off != 0 {
            return rcode::REFUSED;
        }
        let apex = Name { wire: qname, tail_len: qname.len(), tail_ptr: HEADER_LEN };
        resp.push(Section::Answer, apex, &zone.soa, 1);
        return rcode::NOERROR;
    }
    resolve(zone, qname, apex_off, q, resp)
}

/// A name being answered for, with the part of it already in the message.
#[derive(Clone, Copy)]
struct Name<'a> {
    /// Lowercase wire form.
    wire: &'a [u8],
    /// `wire[wire.len() - tail_len..]` is already in the message at offset `tail_ptr`.
    tail_len: usize,
    tail_ptr: usize,
}

impl<'a> Name<'a> {
    /// The suffix of this name starting at byte offset `at` (a label boundary).
    fn suffix(self, at: usize) -> Name<'a> {
        let head = self.wire.len().saturating_sub(self.tail_len);
        let wire = &self.wire[at.min(self.wire.len())..];
        if at <= head {
            Name { wire, ..self }
        } else {
            Name { wire, tail_len: wire.len(), tail_ptr: self.tail_ptr + (at - head) }
        }
    }
}

enum Lookup<'z> {
    /// The name exists (possibly as an empty non-terminal).
    Exact(&'z NodeView),
    /// Synthesized from `*.<closest encloser>` (RFC 4592); the owner is the name itself.
    Wildcard(&'z NodeView),
    NxDomain,
    /// The name is at or below a delegation; `at` is the cut's offset in the name.
    Cut {
        node: &'z NodeView,
        at: usize,
    },
}

fn lookup<'z>(zone: &'z ZoneView, name: &[u8], apex_off: usize, qtype: u16) -> Lookup<'z> {
    let mut offsets = [0u8; 128];
    let n = wire::label_offsets(name, &mut offsets);
    let below_apex = || offsets[..n].iter().map(|&o| o as usize).filter(|&o| o < apex_off);
    if zone.has_cuts {
        // Closest to the apex first: the topmost cut wins.
        for at in below_apex().rev() {
            if let Some(node) = zone.node(&name[at..]).filter(|n| n.is_cut()) {
                // DS lives on the parent side of the cut.
                if !(at == 0 && qtype == QTYPE_DS) {
                    return Lookup::Cut { node, at };
                }
            }
        }
    }
    if let Some(node) = zone.node(name) {
        return Lookup::Exact(node);
    }
    let closest_encloser = below_apex().skip(1).find(|&o| zone.node(&name[o..]).is_some()).unwrap_or(apex_off);
    let encloser = &name[closest_encloser..];
    let mut wildcard = [0u8; MAX_NAME_LEN];
    let len = encloser.len() + 2;
    if len > wildcard.len() {
        return Lookup::NxDomain;
    }
    wildcard[..2].copy_from_slice(b"\x01*");
    wildcard[2..len].copy_from_slice(encloser);
    match zone.node(&wildcard[..len]) {
        Some(node) => Lookup::Wildcard(node),
        None => Lookup::NxDomain,
    }
}

fn resolve(zone: &ZoneView, qname: &[u8], apex_off: usize, q: Question<'_>, resp: &mut Response<'_>) -> u16 {
    let apex_ptr = HEADER_LEN + apex_off;
    let apex = Name { wire: &qname[apex_off..], tail_len: qname.len() - apex_off, tail_ptr: apex_ptr };
    let mut name = Name { wire: qname, tail_len: qname.len(), tail_ptr: HEADER_LEN };
    let mut name_apex_off = apex_off;
    let mut visited: [*const NodeView; MAX_CNAME_CHAIN + 1] = [std::ptr::null(); MAX_CNAME_CHAIN + 1];
    for depth in 0..=MAX_CNAME_CHAIN {
        let node = match lookup(zone, name.wire, name_apex_off, q.qtype) {
            Lookup::Cut { node, at } => {
                if depth == 0 {
                    resp.set_authoritative(false);
                }
                if let Some(ns) = node.set(QTYPE_NS) {
                    resp.push(Section::Authority, name.suffix(at), ns.wire, ns.count);
                    resp.push_additional(ns.additional, ns.additional_count, true);
                }
                return rcode::NOERROR;
            }
            Lookup::NxDomain => {
                resp.push(Section::Authority, apex, &zone.negative_soa, 1);
                return rcode::NXDOMAIN;
            }
            Lookup::Exact(node) | Lookup::Wildcard(node) => node,
        };
        let node_ptr: *const NodeView = node;
        if visited[..depth].contains(&node_ptr) {
            // A CNAME loop: every link is in the answer once; stop here.
            return rcode::NOERROR;
        }
        visited[depth] = node_ptr;
        let at_apex = name_apex_off == 0;
        let set: Option<RenderedSet<'_>> = match q.qtype {
            QTYPE_ANY if at_apex => {
                // RFC 8482: one RRset is enough; the SOA is small and always there.
                resp.push(Section::Answer, name, &zone.soa, 1);
                return rcode::NOERROR;
            }
            QTYPE_ANY => node.sets().next(),
            QTYPE_SOA if at_apex => {
                resp.push(Section::Answer, name, &zone.soa, 1);
                return rcode::NOERROR;
            }
            t => node.set(t),
        };
        if let Some(set) = set {
            resp.push(Section::Answer, name, set.wire, set.count);
            resp.push_additional(set.additional, set.additional_count, false);
            return rcode::NOERROR;
        }
        let Some(cname) = node.set(QTYPE_CNAME) else {
            resp.push(Section::Authority, apex, &zone.negative_soa, 1);
            return rcode::NOERROR;
        };
        resp.push(Section::Answer, name, cname.wire, cname.count);
        let Some(target) = node.cname_chase() else { return rcode::NOERROR };
        name = Name { wire: target, tail_len: zone.origin_wire.len(), tail_ptr: apex_ptr };
        name_apex_off = target.len().saturating_sub(zone.origin_wire.len());
    }
    rcode::NOERROR
}

#[derive(Clone, Copy)]
enum Section {
    Answer = 1,
    Authority = 2,
}

/// A response being written: header, echoed question, sections, OPT last.
struct Response<'o> {
    out: &'o mut Vec<u8>,
    /// EDNS options for the OPT record (COOKIE, NSID).
    options: &'o [u8],
    limit: usize,
    counts: [u16; 4],
    question_end: usize,
    /// DO bit to echo when the query carried OPT.
    opt: Option<bool>,
    truncated: bool,
}

impl<'o> Response<'o> {
    fn start(out: &'o mut Vec<u8>, parsed: &Parsed<'_>, limit: usize) -> Self {
        let mut flags: u16 = 0x8000 | ((parsed.opcode as u16 & 0x0f) << 11);
        if parsed.recursion_desired {
            flags |= 0x0100;
        }
        if parsed.checking_disabled {
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
            limit,
            counts,
            question_end,
            opt: parsed.edns.map(|e| e.dnssec_ok),
            truncated: false,
        }
    }

    fn set_authoritative(&mut self, aa: bool) {
        if aa {
            self.out[2] |= 0x04;
        } else {
            self.out[2] &= !0x04;
        }
    }

    fn reserve_for_opt(&self) -> usize {
        if self.opt.is_some() {
            OPT_RR_LEN + self.options.len()
        } else {
            0
        }
    }

    fn fits(&self) -> bool {
        self.out.len() + self.reserve_for_opt() <= self.limit
    }

    /// Appends an RRset whose RRs share `owner`; sets TC and empties the sections if
    /// the message would exceed the size limit.
    fn push(&mut self, section: Section, owner: Name<'_>, rrs: &[u8], count: u16) {
        if self.truncated || count == 0 {
            return;
        }
        let mut rest = rrs;
        for _ in 0..count {
            let Some(len) = rr_len_without_owner(rest) else { break };
            write_name(self.out, owner);
            self.out.extend_from_slice(&rest[..len]);
            rest = &rest[len..];
            self.counts[section as usize] = self.counts[section as usize].saturating_add(1);
        }
        if !self.fits() {
            self.truncate();
        }
    }

    /// Appends complete RRs to the additional section. Optional data that does not fit
    /// is left out silently; `required` (glue in a referral) sets TC instead.
    fn push_additional(&mut self, rrs: &[u8], count: u16, required: bool) {
        if self.truncated || count == 0 {
            return;
        }
        let mark = self.out.len();
        self.out.extend_from_slice(rrs);
        if self.fits() {
            self.counts[3] = self.counts[3].saturating_add(count);
        } else if required {
            self.truncate();
        } else {
            self.out.truncate(mark);
        }
    }

    fn truncate(&mut self) {
        self.truncated = true;
        self.out.truncate(self.question_end);
        self.counts[1..].fill(0);
        self.out[2] |= 0x02;
    }

    fn finish(self, rcode: u16) {
        self.out[3] = (self.out[3] & 0xf0) | (rcode & 0x0f) as u8;
        let mut counts = self.counts;
        if let Some(dnssec_ok) = self.opt {
            let ttl: u32 = (((rcode >> 4) as u32) << 24) | if dnssec_ok { 0x8000 } else { 0 };
            self.out.push(0);
            self.out.extend_from_slice(&wire::TYPE_OPT.to_be_bytes());
            self.out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
            self.out.extend_from_slice(&ttl.to_be_bytes());
            self.out.extend_from_slice(&(self.options.len() as u16).to_be_bytes());
            self.out.extend_from_slice(self.options);
            counts[3] = counts[3].saturating_add(1);
        }
        for (i, c) in counts.iter().enumerate() {
            self.out[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
    }
}

/// Length of one pre-rendered RR (TYPE..RDATA) at the start of `rrs`.
fn rr_len_without_owner(rrs: &[u8]) -> Option<usize> {
    let rdlen = u16::from_be_bytes([*rrs.get(8)?, *rrs.get(9)?]) as usize;
    let len = 10 + rdlen;
    (len <= rrs.len()).then_some(len)
}

fn write_name(out: &mut Vec<u8>, name: Name<'_>) {
    let head = name.wire.len().saturating_sub(name.tail_len);
    out.extend_from_slice(&name.wire[..head]);
    let ptr = 0xc000 | (name.tail_ptr as u16 & 0x3fff);
    out.extend_from_slice(&ptr.to_be_bytes());
}
