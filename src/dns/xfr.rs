//! Outgoing zone transfers over TCP: AXFR (RFC 5936) and IXFR (RFC 1995), allowed per
//! zone by source network or TSIG key, signed when the request was (RFC 8945 §5.3.1).
//!
//! A transfer reads one `ZoneView` (an `Arc` taken from the current snapshot), so it is a
//! consistent version however long it takes. [`prepare`] decides (ACL, TSIG, which kind
//! of answer) without doing the work; [`Job::run`] builds the messages one at a time and
//! hands each to a callback, so the transport can stream them with bounded memory.
//!
//! A request with EDNS gets an OPT record in every message; one with the EXPIRE option
//! (RFC 7314) gets the zone's SOA expire in it, as BIND and Knot send it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::answer::rcode;
use super::rr::{self, Layout};
use super::tsig::{self, KeyRing, ResponseSigner, TsigKey, TsigRr, Verified};
use super::wire::HEADER_LEN;
use crate::dns::view;
use crate::dns::view::snapshot::{DnsSnapshot, ZoneView};
use crate::metrics::XFR_REQUESTS_TOTAL;
use crate::model::{Fqdn, Serial, SoaParams, ZoneTransfer};
use crate::state::journal::{DiffRr, JournalEntry};

pub const QTYPE_IXFR: u16 = 251;
pub const QTYPE_AXFR: u16 = 252;
const QTYPE_SOA: u16 = 6;
const CLASS_IN: u16 = 1;
pub const NOTAUTH: u16 = 9;
/// Largest message on the wire (2-byte TCP length prefix).
const MAX_MESSAGE: usize = 65535;
/// Room left in each message for the TSIG RR.
const TSIG_RESERVE: usize = 2 * 255 + 128;

/// This node's transfer configuration: the TSIG keys it verifies transfer requests with
/// (the config file's `[[tsig_key]]`s and the keys replicated through Raft: the same ring
/// UPDATE uses, swapped by `KeyRingPublisher` when a key is created or deleted), and per
/// zone the networks, keys and NOTIFY targets its config file adds to the replicated ones.
///
/// A key only proves who asks; whether it may transfer a zone is the zone's
/// `transfer_tsig` list (replicated or local), like BIND's `allow-transfer { key X; }`.
#[derive(Clone, Debug, Default)]
pub struct XfrConfig {
    pub keys: Arc<ArcSwap<KeyRing>>,
    pub local: HashMap<Fqdn, ZoneTransfer>,
}

impl XfrConfig {
    /// A fixed key ring (tests, tools); a node shares the live one instead.
    pub fn with_keys(keys: KeyRing, local: HashMap<Fqdn, ZoneTransfer>) -> XfrConfig {
        XfrConfig { keys: Arc::new(ArcSwap::from_pointee(keys)), local }
    }
}

/// Whether a message is a zone transfer request (served by this module, TCP only).
pub fn is_transfer(query: &[u8]) -> bool {
    match super::wire::parse(query) {
        Ok(p) => p.opcode == 0 && p.question.is_some_and(|q| q.qtype == QTYPE_AXFR || q.qtype == QTYPE_IXFR),
        Err(_) => false,
    }
}

enum Kind {
    /// An error answer (rcode), with the TSIG error RR to add when the request's TSIG failed.
    Error { rcode: u16, tsig_error: Option<(u16, TsigRr, Option<Arc<TsigKey>>)> },
    /// SOA, every RR, SOA.
    Full(Arc<ZoneView>),
    /// The client is current: the single SOA.
    Current(Arc<ZoneView>),
    /// SOA, then per entry: old SOA, removed RRs, new SOA, added RRs; then SOA.
    Incremental(Arc<ZoneView>, Vec<Arc<JournalEntry>>),
}

/// A decided transfer, ready to run.
pub struct Job {
    id: u16,
    question: Vec<u8>,
    kind: Kind,
    signer: Option<ResponseSigner>,
    /// The request carried OPT: (it asked for EXPIRE).
    edns: Option<bool>,
    /// For the metric: which query type and what came of it.
    pub qtype: &'static str,
    pub outcome: &'static str,
}

/// Decides how to answer a transfer request from `peer`.
pub fn prepare(snap: &DnsSnapshot, cfg: &XfrConfig, query: &[u8], peer: IpAddr, now: u64) -> Job {
    let id = u16::from_be_bytes([query.first().copied().unwrap_or(0), query.get(1).copied().unwrap_or(0)]);
    let mut job = Job {
        id,
        question: Vec::new(),
        kind: Kind::Error { rcode: rcode::FORMERR, tsig_error: None },
        signer: None,
        edns: None,
        qtype: "AXFR",
        outcome: "formerr",
    };
    let Some(layout) = rr::layout(query) else { return job };
    if let Ok(parsed) = super::wire::parse(query) {
        job.edns = parsed.edns.map(|_| super::edns::wants_expire(&parsed));
    }
    let Some(&(qstart, qend, qtype, qclass)) = layout.questions.first().filter(|_| layout.questions.len() == 1) else {
        return job;
    };
    job.question = query[qstart..qend + 4].to_vec();
    job.qtype = if qtype == QTYPE_IXFR { "IXFR" } else { "AXFR" };
    let Ok(tsig_rr) = tsig::find(query, &layout) else { return job };
    let key = match tsig::verify_request(query, tsig_rr, &cfg.keys.load(), now) {
        Verified::Unsigned => None,
        Verified::Valid { key, request_mac } => {
            job.signer = Some(ResponseSigner::new(key.clone(), request_mac));
            Some(key)
        }
        Verified::Invalid { error, tsig, key } => {
            job.kind = Kind::Error { rcode: NOTAUTH, tsig_error: Some((error, tsig, key)) };
            job.outcome = "bad_tsig";
            return job;
        }
    };
    let zone = rr::read_name(query, qstart).and_then(|name| snap.zone(&name).cloned());
    let Some(zone) = zone.filter(|_| qclass == CLASS_IN) else {
        job.kind = Kind::Error { rcode: NOTAUTH, tsig_error: None };
        job.outcome = "not_authoritative";
        return job;
    };
    if !allowed(snap.transfer.get(&zone.origin), cfg.local.get(&zone.origin), peer, key.as_deref()) {
        job.kind = Kind::Error { rcode: rcode::REFUSED, tsig_error: None };
        job.outcome = "refused";
        return job;
    }
    if qtype == QTYPE_AXFR {
        job.outcome = "axfr";
        job.kind = Kind::Full(zone);
        return job;
    }
    let Some(client) = client_serial(query, &layout) else { return job };
    let current = Serial(zone.serial);
    if client == current || client.is_after(current) {
        job.outcome = "current";
        job.kind = Kind::Current(zone);
    } else if let Some(start) = zone.journal.iter().position(|e| e.from == client) {
        let entries = zone.journal[start..].to_vec();
        job.outcome = "ixfr";
        job.kind = Kind::Incremental(zone, entries);
    } else {
        job.outcome = "axfr";
        job.kind = Kind::Full(zone);
    }
    job
}

/// Replicated settings and this node's config both grant access; either suffices.
fn allowed(
    replicated: Option<&ZoneTransfer>,
    local: Option<&ZoneTransfer>,
    peer: IpAddr,
    key: Option<&TsigKey>,
) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    [replicated, local].into_iter().flatten().any(|t| {
        t.allow_transfer.iter().any(|net| net.contains(&peer)) || key.is_some_and(|k| t.transfer_tsig.contains(&k.name))
    })
}

/// The serial of the SOA in the authority section of an IXFR query.
fn client_serial(query: &[u8], layout: &Layout) -> Option<Serial> {
    let soa = layout.rrs.iter().find(|r| r.section == 1 && r.rtype == QTYPE_SOA)?;
    rr::soa_serial(query, soa).map(Serial)
}

impl Job {
    /// Builds the response messages in order, passing each to `emit`; stops early when
    /// `emit` returns false (the client went away). Counts the request.
    pub fn run(mut self, now: u64, emit: &mut dyn FnMut(Vec<u8>) -> bool) {
        XFR_REQUESTS_TOTAL.with_label_values(&[self.qtype, self.outcome]).inc();
        let kind = std::mem::replace(&mut self.kind, Kind::Error { rcode: 0, tsig_error: None });
        let mut signer = self.signer.take();
        let expire = match &kind {
            Kind::Current(z) | Kind::Full(z) | Kind::Incremental(z, _) => Some(z.expire),
            Kind::Error { .. } => None,
        };
        let opt = self.edns.map(|asked| Opt { expire: expire.filter(|_| asked) });
        let mut out = Writer::new(self.id, &self.question, signer.as_mut(), opt, now, emit);
        match kind {
            Kind::Error { rcode, tsig_error } => out.finish_error(rcode, tsig_error),
            Kind::Current(zone) => {
                out.push(&zone.origin_wire, &zone.soa_plain);
                out.flush();
            }
            Kind::Full(zone) => {
                out.push(&zone.origin_wire, &zone.soa_plain);
                for node in &zone.nodes {
                    let owner = node.key();
                    for set in node.sets() {
                        let sent =
                            view::compress::expand(owner, set.wire, set.count as usize, |rr| out.push(owner, rr));
                        if !sent {
                            return;
                        }
                    }
                }
                out.push(&zone.origin_wire, &zone.soa_plain);
                out.flush();
            }
            Kind::Incremental(zone, entries) => {
                out.push(&zone.origin_wire, &zone.soa_plain);
                let mut buf = Vec::with_capacity(256);
                for e in &entries {
                    out.push(&zone.origin_wire, &render_soa(&e.from_soa, e.from, &mut buf));
                    for r in &e.removed {
                        out.push_diff(r, &mut buf);
                    }
                    out.push(&zone.origin_wire, &render_soa(&e.to_soa, e.to, &mut buf));
                    for r in &e.added {
                        out.push_diff(r, &mut buf);
                    }
                }
                out.push(&zone.origin_wire, &zone.soa_plain);
                out.flush();
            }
        }
    }
}

/// The OPT record of each message of a transfer.
#[derive(Clone, Copy)]
struct Opt {
    expire: Option<u32>,
}

impl Opt {
    fn len(self) -> usize {
        11 + if self.expire.is_some() { 8 } else { 0 }
    }

    fn write(self, out: &mut Vec<u8>) {
        out.push(0);
        out.extend_from_slice(&super::wire::TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&super::answer::EDNS_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        match self.expire {
            Some(expire) => {
                out.extend_from_slice(&8u16.to_be_bytes());
                out.extend_from_slice(&super::edns::OPTION_EXPIRE.to_be_bytes());
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&expire.to_be_bytes());
            }
            None => out.extend_from_slice(&0u16.to_be_bytes()),
        }
    }
}

fn render_soa(soa: &SoaParams, serial: Serial, buf: &mut Vec<u8>) -> Vec<u8> {
    buf.clear();
    let start = header(buf, QTYPE_SOA, soa.ttl);
    soa.write_rdata(serial, buf);
    finish_rdlength(buf, start);
    buf.clone()
}

fn header(out: &mut Vec<u8>, rtype: u16, ttl: u32) -> usize {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.len()
}

fn finish_rdlength(out: &mut [u8], start: usize) {
    let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    out[start - 2..start].copy_from_slice(&len.to_be_bytes());
}

/// Packs RRs into messages of at most [`MAX_MESSAGE`] octets, signing each if asked.
struct Writer<'j, 'e> {
    id: u16,
    question: &'j [u8],
    signer: Option<&'j mut ResponseSigner>,
    opt: Option<Opt>,
    limit: usize,
    now: u64,
    cur: Vec<u8>,
    count: u16,
    emit: &'e mut dyn FnMut(Vec<u8>) -> bool,
    open: bool,
}

impl<'j, 'e> Writer<'j, 'e> {
    fn new(
        id: u16,
        question: &'j [u8],
        signer: Option<&'j mut ResponseSigner>,
        opt: Option<Opt>,
        now: u64,
        emit: &'e mut dyn FnMut(Vec<u8>) -> bool,
    ) -> Self {
        let limit = if signer.is_some() { MAX_MESSAGE - TSIG_RESERVE } else { MAX_MESSAGE };
        let limit = limit - opt.map_or(0, Opt::len);
        let cur = Vec::with_capacity(MAX_MESSAGE);
        let mut w = Writer { id, question, signer, opt, limit, now, cur, count: 0, emit, open: true };
        w.start();
        w
    }

    fn start(&mut self) {
        self.cur.clear();
        self.cur.extend_from_slice(&self.id.to_be_bytes());
        // QR, opcode QUERY, AA.
        self.cur.extend_from_slice(&[0x84, 0x00]);
        let qd: u16 = if self.question.is_empty() { 0 } else { 1 };
        self.cur.extend_from_slice(&qd.to_be_bytes());
        self.cur.extend_from_slice(&[0; 6]);
        self.cur.extend_from_slice(self.question);
        self.count = 0;
    }

    /// Adds one RR (owner in wire form, then TYPE..RDATA); false once the client is gone.
    fn push(&mut self, owner: &[u8], rr: &[u8]) -> bool {
        if !self.open {
            return false;
        }
        if self.count > 0 && (self.cur.len() + owner.len() + rr.len() > self.limit || self.count == u16::MAX) {
            self.flush();
            if !self.open {
                return false;
            }
            self.start();
        }
        self.cur.extend_from_slice(owner);
        self.cur.extend_from_slice(rr);
        self.count += 1;
        true
    }

    fn push_diff(&mut self, r: &DiffRr, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let start = header(buf, r.data.rtype().code(), r.ttl);
        r.data.write_wire(buf);
        finish_rdlength(buf, start);
        let rr = std::mem::take(buf);
        let ok = self.push(&r.name.to_wire(), &rr);
        *buf = rr;
        ok
    }

    fn flush(&mut self) {
        if !self.open {
            return;
        }
        self.cur[6..8].copy_from_slice(&self.count.to_be_bytes());
        self.add_opt();
        let mut msg = std::mem::take(&mut self.cur);
        if let Some(s) = self.signer.as_deref_mut() {
            s.sign(&mut msg, self.now);
        }
        self.open = (self.emit)(msg);
        self.cur = Vec::with_capacity(MAX_MESSAGE);
    }

    /// Appends the OPT record (before any TSIG, which signs it too).
    fn add_opt(&mut self) {
        if let Some(opt) = self.opt {
            opt.write(&mut self.cur);
            self.cur[10..12].copy_from_slice(&1u16.to_be_bytes());
        }
    }

    fn finish_error(&mut self, rcode: u16, tsig_error: Option<(u16, TsigRr, Option<Arc<TsigKey>>)>) {
        self.cur[3] = (rcode & 0x0f) as u8;
        if self.cur.len() >= HEADER_LEN {
            self.add_opt();
        }
        // Only NOTAUTH for a bad TSIG is unsigned; other refusals of a signed request are signed.
        let mut msg = std::mem::take(&mut self.cur);
        if msg.len() < HEADER_LEN {
            return;
        }
        match tsig_error {
            Some((code, request, key)) => tsig::append_error(&mut msg, code, &request, key.as_deref(), self.now),
            None => {
                if let Some(s) = self.signer.as_deref_mut() {
                    s.sign(&mut msg, self.now);
                }
            }
        }
        (self.emit)(msg);
    }
}
