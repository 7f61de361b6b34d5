//! RFC 2136 UPDATE over UDP and TCP, and TSIG on ordinary queries.
//!
//! The query path stays synchronous and never waits on Raft: the transports hand an
//! UPDATE (opcode 5) to [`UpdateHandler`], which verifies its TSIG against this node's
//! key ring, parses it, proposes one `Command::DnsUpdate` through [`Service::submit`]
//! (forwarded to the leader from a follower) and answers with the rcode apply decided,
//! after this node applied the entry. Over UDP each UPDATE runs in its own task, bounded
//! by a semaphore; over TCP the connection's task awaits it (answers stay in order).
//!
//! The key ring is the config file's `[[tsig_key]]`s plus the replicated keys, rebuilt by
//! [`KeyRingPublisher`] when the replicated keys change.
//!
//! What can be refused without the log is refused here and kept in this node's
//! [`rejected::RejectedRing`] instead of the replicated history: a malformed message, a
//! failed TSIG, an unsigned UPDATE, a zone we do not serve, a key used outside its policy
//! (checked on the local replica; apply checks again at the entry's log position).

pub mod parse;
pub mod rejected;
pub mod signed;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::rr;
use super::tsig::{self, KeyRing, ResponseSigner, TsigKey, Verified};
use crate::metrics::{DNS_UPDATES_TOTAL, DNS_UPDATE_DURATION, TSIG_FAILURES_TOTAL};
use crate::model::tsig::Algorithm;
use crate::model::Fqdn;
use crate::service::Service;
use crate::state::rfc2136::{rcode, UpdateOp};
use crate::state::{Command, Event, State, StateObserver};
use rejected::{Reason, RejectedRing, RejectedUpdate};

/// UPDATEs over UDP in flight at once; more are dropped (the client retries).
const MAX_UDP_IN_FLIGHT: usize = 256;
const OPCODE_UPDATE: u8 = 5;

/// Whether a message is an UPDATE request (opcode 5, QR clear): two header bits, no parse.
pub fn is_update(msg: &[u8]) -> bool {
    msg.len() >= super::wire::HEADER_LEN && msg[2] & 0x80 == 0 && (msg[2] >> 3) & 0x0f == OPCODE_UPDATE
}

pub struct UpdateHandler {
    service: OnceLock<Arc<Service>>,
    keys: Arc<ArcSwap<KeyRing>>,
    udp_slots: Arc<Semaphore>,
    /// UPDATEs this node refused before Raft (not in the replicated history).
    rejected: Arc<RejectedRing>,
}

impl std::fmt::Debug for UpdateHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpdateHandler")
    }
}

impl UpdateHandler {
    pub fn new(keys: Arc<ArcSwap<KeyRing>>) -> Arc<Self> {
        Arc::new(UpdateHandler {
            service: OnceLock::new(),
            keys,
            udp_slots: Arc::new(Semaphore::new(MAX_UDP_IN_FLIGHT)),
            rejected: Arc::default(),
        })
    }

    /// The UPDATEs this node refused before Raft (`GET /api/v1/updates` shows them).
    pub fn rejected(&self) -> Arc<RejectedRing> {
        self.rejected.clone()
    }

    /// The service is created after the DNS listeners (it needs their address); until it
    /// is set, UPDATEs get SERVFAIL.
    pub fn set_service(&self, svc: Arc<Service>) {
        let _ = self.service.set(svc);
    }

    pub fn keys(&self) -> arc_swap::Guard<Arc<KeyRing>> {
        self.keys.load()
    }

    /// UDP: answers in a task of its own (on `rt`) so the receive loop goes on at once.
    pub fn spawn_udp(self: &Arc<Self>, msg: Vec<u8>, peer: SocketAddr, socket: UdpReply, rt: &tokio::runtime::Handle) {
        let Ok(permit) = self.udp_slots.clone().try_acquire_owned() else {
            super::stats::count_transport_drop("update_overload");
            return;
        };
        let this = self.clone();
        rt.spawn(async move {
            if let Some(resp) = this.handle(&msg, peer, "udp").await {
                if let Err(e) = socket.send_to(&resp, peer).await {
                    tracing::debug!(error = %e, %peer, "udp send of update response");
                }
            }
            drop(permit);
        });
    }

    /// Answers one UPDATE; `None` when there is nothing to answer to.
    pub async fn handle(&self, msg: &[u8], peer: SocketAddr, transport: &'static str) -> Option<Vec<u8>> {
        if msg.len() < super::wire::HEADER_LEN {
            return None;
        }
        let span = tracing::info_span!("dns_update", %peer, transport, zone = tracing::field::Empty, key = tracing::field::Empty, rcode = tracing::field::Empty);
        let start = Instant::now();
        let resp = self.respond(msg, peer).instrument(span).await;
        DNS_UPDATE_DURATION.with_label_values(&[transport]).observe(start.elapsed().as_secs_f64());
        let rc = resp.get(3).map(|b| u16::from(b & 0x0f)).unwrap_or(0);
        DNS_UPDATES_TOTAL.with_label_values(&[transport, rcode::name(rc)]).inc();
        Some(resp)
    }

    async fn respond(&self, msg: &[u8], peer: SocketAddr) -> Vec<u8> {
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let Some(layout) = rr::layout(msg) else {
            self.reject(None, None, peer, rcode::FORMERR, Reason::Malformed, None);
            return header(id, rcode::FORMERR, &[]);
        };
        let zone_section = match layout.questions.as_slice() {
            [(start, end, _, _)] => msg.get(*start..end + 4).unwrap_or_default(),
            _ => &[],
        };
        let Ok(tsig_rr) = tsig::find(msg, &layout) else {
            self.reject(None, None, peer, rcode::FORMERR, Reason::Malformed, None);
            return header(id, rcode::FORMERR, zone_section);
        };
        let now = tsig::now();
        let (key, signer) = match tsig::verify_request(msg, tsig_rr, &self.keys.load(), now) {
            Verified::Unsigned => (None, None),
            Verified::Valid { key, request_mac } => (Some(key.clone()), Some(ResponseSigner::new(key, request_mac))),
            Verified::Invalid { error, tsig, key } => {
                TSIG_FAILURES_TOTAL.with_label_values(&["update", tsig_error_name(error)]).inc();
                tracing::info!(tsig_error = tsig_error_name(error), "update refused: TSIG");
                let parsed = parse::parse(msg).ok();
                let claimed = rejected::wire_name(&tsig.key_name);
                self.reject(
                    parsed.as_ref(),
                    claimed,
                    peer,
                    rcode::NOTAUTH,
                    Reason::BadTsig,
                    Some(tsig_error_name(error)),
                );
                let mut r = header(id, rcode::NOTAUTH, zone_section);
                tsig::append_error(&mut r, error, &tsig, key.as_deref(), now);
                return r;
            }
        };
        let rc = self.decide(msg, key.as_deref(), peer).await;
        tracing::Span::current().record("rcode", rcode::name(rc));
        let mut r = header(id, rc, zone_section);
        if let Some(mut s) = signer {
            s.sign(&mut r, tsig::now());
        }
        r
    }

    /// Keeps a refused UPDATE in this node's ring (once the service is there to hold it).
    fn reject(
        &self,
        parsed: Option<&parse::ParsedUpdate>,
        key: Option<Fqdn>,
        peer: SocketAddr,
        rc: u16,
        reason: Reason,
        tsig_error: Option<&'static str>,
    ) {
        self.rejected.push(RejectedUpdate {
            at: crate::clock::unix_ms(),
            zone: parsed.map(|p| p.zone.clone()),
            key,
            source: peer.to_string(),
            rcode: rc,
            reason,
            tsig_error,
            changes: parsed.map(|p| p.updates.iter().map(UpdateOp::describe).collect()).unwrap_or_default(),
        });
    }

    async fn decide(&self, msg: &[u8], key: Option<&TsigKey>, peer: SocketAddr) -> u16 {
        let key_name = key.map(|k| k.name.clone());
        let parsed = match parse::parse(msg) {
            Ok(p) => p,
            Err(rc) => {
                self.reject(None, key_name, peer, rc, Reason::Malformed, None);
                return rc;
            }
        };
        let span = tracing::Span::current();
        span.record("zone", parsed.zone.as_str());
        let Some(key) = key else {
            tracing::info!("unsigned update refused");
            self.reject(Some(&parsed), None, peer, rcode::REFUSED, Reason::Unsigned, None);
            return rcode::REFUSED;
        };
        span.record("key", key.name.as_str());
        let Some(svc) = self.service.get() else { return rcode::SERVFAIL };
        // A zone this cluster does not serve, or a key outside its policy: no log entry.
        let (served, allowed) = svc.read(|s| {
            let allowed = s.rfc2136.keys.get(&key.name).is_some_and(|k| parsed.updates.iter().all(|op| k.allows(op)));
            (s.zones.contains_key(&parsed.zone), allowed)
        });
        if !served {
            self.reject(Some(&parsed), key_name, peer, rcode::NOTAUTH, Reason::NotAuthoritative, None);
            return rcode::NOTAUTH;
        }
        if !allowed {
            tracing::info!("update refused: outside the key's policy");
            self.reject(Some(&parsed), key_name, peer, rcode::REFUSED, Reason::Policy, None);
            return rcode::REFUSED;
        }
        let cmd = Command::DnsUpdate {
            zone: parsed.zone,
            prereqs: parsed.prereqs,
            updates: parsed.updates,
            key: Some(key.name.clone()),
            source: peer.to_string(),
            at: crate::clock::unix_ms(),
        };
        match svc.submit(cmd).await {
            Ok(c) => c
                .applied
                .events
                .iter()
                .find_map(|e| match e {
                    Event::DnsUpdated { rcode, .. } => Some(*rcode),
                    _ => None,
                })
                .unwrap_or(rcode::SERVFAIL),
            Err(e) => {
                tracing::warn!(error = %e, "update not committed");
                rcode::SERVFAIL
            }
        }
    }
}

/// A response header (QR, opcode UPDATE) with the zone section echoed.
fn header(id: u16, rc: u16, zone_section: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(64 + zone_section.len());
    r.extend_from_slice(&id.to_be_bytes());
    r.push(0x80 | (OPCODE_UPDATE << 3));
    r.push((rc & 0x0f) as u8);
    let qd: u16 = if zone_section.is_empty() { 0 } else { 1 };
    r.extend_from_slice(&qd.to_be_bytes());
    r.extend_from_slice(&[0; 6]);
    r.extend_from_slice(zone_section);
    r
}

pub fn tsig_error_name(e: u16) -> &'static str {
    match e {
        tsig::error::BADSIG => "BADSIG",
        tsig::error::BADKEY => "BADKEY",
        tsig::error::BADTIME => "BADTIME",
        _ => "OTHER",
    }
}

/// Keeps the key ring (config keys + replicated keys) current for the DNS path.
pub struct KeyRingPublisher {
    config_keys: Vec<TsigKey>,
    pub ring: Arc<ArcSwap<KeyRing>>,
    version: AtomicU64,
}

impl KeyRingPublisher {
    pub fn new(config_keys: Vec<TsigKey>) -> Arc<Self> {
        let ring = Arc::new(ArcSwap::from_pointee(KeyRing::new(config_keys.clone())));
        Arc::new(KeyRingPublisher { config_keys, ring, version: AtomicU64::new(u64::MAX) })
    }
}

impl StateObserver for KeyRingPublisher {
    fn state_changed(&self, state: &State, changed: Option<&std::collections::BTreeSet<Fqdn>>, _: u64) {
        let v = state.rfc2136.keys_version;
        if changed.is_some() && self.version.load(Ordering::Relaxed) == v {
            return;
        }
        self.version.store(v, Ordering::Relaxed);
        let replicated = state.rfc2136.keys.values().filter_map(|k| {
            let alg = Algorithm::parse(&k.algorithm)?;
            Some(TsigKey::new(k.name.clone(), alg, k.secret.clone()))
        });
        let keys: Vec<TsigKey> = self.config_keys.iter().cloned().chain(replicated).collect();
        self.ring.store(Arc::new(KeyRing::new(keys)));
    }
}

/// Where a UDP UPDATE answer goes out: the tokio socket of the portable loop, or a clone of
/// the blocking socket of a Linux UDP worker thread (a datagram send does not wait).
#[derive(Clone)]
pub enum UdpReply {
    Tokio(Arc<UdpSocket>),
    Std(Arc<std::net::UdpSocket>),
}

impl UdpReply {
    async fn send_to(&self, buf: &[u8], peer: SocketAddr) -> std::io::Result<usize> {
        match self {
            UdpReply::Tokio(s) => s.send_to(buf, peer).await,
            UdpReply::Std(s) => s.send_to(buf, peer),
        }
    }
}
