//! Authoritative answering over a [`DnsSnapshot`]: query bytes in, response bytes out.
//!
//! The response is assembled from the snapshot's pre-rendered, compressed RRsets
//! (`view::compress`, `response`): an RRset whose owner is the query name is copied as
//! is; one whose owner is elsewhere in the message (a suffix of the query name: apex,
//! zone cut; a CNAME target inside the previous RR's RDATA) has its pointers moved there.

use super::cookie::CookieStatus;
use super::edns::{self, EdnsPolicy};
use super::response::{Owner, Response, Section};
use super::stats::{self, Transport};
use super::wire::{self, Parsed, Question, HEADER_LEN, MAX_NAME_LEN};
use crate::dns::view::snapshot::{DnsSnapshot, NodeView, RenderedSet, ZoneView};

pub use super::response::EDNS_PAYLOAD;
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
    let mut rcode = respond(snapshot, &parsed, &mut resp, edns.forced, edns.want_expire);
    match ctx.slip {
        None => {}
        Some(Slip::Truncate) => resp.truncate(),
        Some(Slip::BadCookie) => {
            resp.truncate();
            resp.clear_truncated();
            rcode = edns::BADCOOKIE;
        }
    }
    resp.finish(rcode);
    stats::count_query(parsed.question.map(|q| q.qtype), rcode, ctx.transport);
    Some(Outcome { rcode, cookie: edns.cookie })
}

fn respond(
    snapshot: &DnsSnapshot,
    parsed: &Parsed<'_>,
    resp: &mut Response<'_>,
    forced: Option<u16>,
    want_expire: bool,
) -> u16 {
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
    if apex_off == 0 && want_expire && matches!(q.qtype, QTYPE_SOA | QTYPE_IXFR) {
        // RFC 7314: a primary's EXPIRE is the SOA's expire field.
        resp.expire = Some(zone.expire);
    }
    if q.qtype == QTYPE_IXFR {
        // IXFR over UDP: the single current SOA tells the client to retry over TCP if it
        // is behind (RFC 1995 2). Only for a zone apex.
        if apex_off != 0 {
            return rcode::REFUSED;
        }
        resp.push(Section::Answer, apex_owner(zone, HEADER_LEN), &zone.soa, 1);
        return rcode::NOERROR;
    }
    resolve(zone, qname, apex_off, q, resp)
}

/// The apex as the owner of the zone's SOA, found at `pos` in the message.
fn apex_owner(zone: &ZoneView, pos: usize) -> Owner {
    Owner { pos, key_len: zone.origin_wire.len() }
}

/// A name being answered for: its lowercase wire form and where it is in the message
/// (the question, or the RDATA of the CNAME that led to it).
#[derive(Clone, Copy)]
struct Name<'a> {
    wire: &'a [u8],
    pos: usize,
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

/// Adds `set` of `node` to `section` with its additional records.
fn push_set(resp: &mut Response<'_>, section: Section, pos: usize, node: &NodeView, set: RenderedSet<'_>, cut: bool) {
    let owner = Owner { pos, key_len: node.key().len() };
    if let Some((_, reloc)) = resp.push(section, owner, set.wire, set.count) {
        let required_below = cut.then(|| node.key());
        resp.push_additional(&reloc, set.additional, set.additional_count, required_below);
    }
}

fn resolve(zone: &ZoneView, qname: &[u8], apex_off: usize, q: Question<'_>, resp: &mut Response<'_>) -> u16 {
    // The chain never leaves the zone, so the apex stays where it is in the question.
    let apex = apex_owner(zone, HEADER_LEN + apex_off);
    let mut name = Name { wire: qname, pos: HEADER_LEN };
    let mut name_apex_off = apex_off;
    let mut visited: [*const NodeView; MAX_CNAME_CHAIN + 1] = [std::ptr::null(); MAX_CNAME_CHAIN + 1];
    for depth in 0..=MAX_CNAME_CHAIN {
        let node = match lookup(zone, name.wire, name_apex_off, q.qtype) {
            Lookup::Cut { node, at } => {
                if depth == 0 {
                    resp.set_authoritative(false);
                }
                if let Some(ns) = node.set(QTYPE_NS) {
                    match resp.suffix_pos(name.pos, at) {
                        Some(pos) => push_set(resp, Section::Authority, pos, node, ns, true),
                        None => resp.truncate(),
                    }
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
                resp.push(Section::Answer, apex_owner(zone, name.pos), &zone.soa, 1);
                return rcode::NOERROR;
            }
            QTYPE_ANY => node.sets().next(),
            QTYPE_SOA if at_apex => {
                resp.push(Section::Answer, apex_owner(zone, name.pos), &zone.soa, 1);
                return rcode::NOERROR;
            }
            t => node.set(t),
        };
        if let Some(set) = set {
            push_set(resp, Section::Answer, name.pos, node, set, false);
            return rcode::NOERROR;
        }
        let Some(cname) = node.set(QTYPE_CNAME) else {
            resp.push(Section::Authority, apex, &zone.negative_soa, 1);
            return rcode::NOERROR;
        };
        let owner = Owner { pos: name.pos, key_len: node.key().len() };
        let Some((at, _)) = resp.push(Section::Answer, owner, cname.wire, cname.count) else { return rcode::NOERROR };
        let Some(target) = node.cname_chase() else { return rcode::NOERROR };
        // The first CNAME RR's target (the one chased) follows its 2-octet owner pointer
        // and 10 octets of TYPE, CLASS, TTL, RDLENGTH.
        name = Name { wire: target, pos: at + 12 };
        name_apex_off = target.len().saturating_sub(zone.origin_wire.len());
    }
    rcode::NOERROR
}
