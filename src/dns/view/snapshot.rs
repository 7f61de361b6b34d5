//! The DNS read model: every zone pre-rendered into wire-format fragments, so answering
//! a query is hash lookups plus `memcpy`.
//!
//! Architecture invariant: a `DnsSnapshot` is immutable once built. The state machine
//! builds a new one after each applied batch (reusing unchanged zones through `Arc`, and
//! inside a changed zone every name that did not change: see `incremental`) and swaps it
//! in with `ArcSwap`; queries never take a lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::compress::Compressor;
use super::glue::GlueIndex;
pub use super::nodemap::NodeMap;
pub use super::nodeview::{NodeBuilder, NodeView, RenderedSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::metrics::{ZONE_RECORDS_GAUGE, ZONE_SERIAL_GAUGE};
use crate::model::{Fqdn, RData, RType, RecordSet, Zone, ZoneTransfer};
use crate::state::journal::JournalEntry;
use crate::state::{ChangeSet, State, StateObserver, ZoneNames};

const CLASS_IN: u16 = 1;

/// One zone, pre-rendered.
#[derive(Debug)]
pub struct ZoneView {
    pub origin: Fqdn,
    /// Lowercase wire form of the origin.
    pub origin_wire: Box<[u8]>,
    pub serial: u32,
    pub record_count: usize,
    /// Every owner name and every empty non-terminal between an owner and the apex,
    /// keyed by lowercase wire name. The apex is always present.
    pub nodes: NodeMap,
    /// The SOA RR rendered for answers (see `compress`: owner pointer, names compressed
    /// against the apex), TTL = the SOA's TTL (answers to SOA queries).
    pub soa: Box<[u8]>,
    /// The same with TTL = min(SOA TTL, minimum) (RFC 2308 3, negative answers).
    pub negative_soa: Box<[u8]>,
    /// The SOA RR without owner and uncompressed (zone transfers).
    pub soa_plain: Box<[u8]>,
    /// The SOA EXPIRE field (the EDNS EXPIRE option of a primary, RFC 7314).
    pub expire: u32,
    /// Whether any node below the apex holds NS, so lookups check for zone cuts.
    pub has_cuts: bool,
    /// How many nodes are zone cuts.
    pub(super) cuts: usize,
    /// Which owners carry additional-section records of which in-zone targets.
    pub(super) glue: Arc<GlueIndex>,
    /// IXFR history, oldest first, shared with the state's journal (see `state::journal`).
    pub journal: Vec<Arc<JournalEntry>>,
}

impl ZoneView {
    pub fn build(zone: &Zone) -> ZoneView {
        let origin_wire: Box<[u8]> = zone.origin.to_wire().into();
        let mut nodes = NodeMap::with_capacity(zone.nodes.len() + zone.nodes.len() / 8 + 1);
        nodes.insert(NodeView::empty(&origin_wire, 0));
        let RenderedSoa { positive: soa, negative: negative_soa, plain: soa_plain } = render_soa(zone);
        let mut view = ZoneView {
            origin: zone.origin.clone(),
            origin_wire,
            serial: zone.serial.0,
            record_count: 1,
            nodes,
            soa,
            negative_soa,
            soa_plain,
            expire: zone.soa.expire,
            has_cuts: false,
            cuts: 0,
            glue: Arc::default(),
            journal: Vec::new(),
        };
        for name in zone.nodes.keys() {
            view.set_name(zone, name);
        }
        view
    }

    /// The view of a zone of `state`, with its IXFR history.
    pub fn build_in(state: &State, zone: &Zone) -> ZoneView {
        let mut view = ZoneView::build(zone);
        if let Some(j) = state.journals.get(&zone.origin) {
            view.journal = j.entries.iter().cloned().collect();
        }
        view
    }

    pub fn node(&self, lower_wire: &[u8]) -> Option<&NodeView> {
        self.nodes.get(lower_wire)
    }
}

/// Writes TYPE, CLASS IN, TTL and a placeholder RDLENGTH; returns where RDATA starts.
fn rr_header(out: &mut Vec<u8>, rtype: u16, ttl: u32) -> usize {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.len()
}

/// The zone's SOA RR as answers send it (owner and names compressed, see `compress`),
/// with the SOA's TTL and with the negative-answer TTL.
pub(super) struct RenderedSoa {
    pub(super) positive: Box<[u8]>,
    pub(super) negative: Box<[u8]>,
    /// Uncompressed, without owner (zone transfers).
    pub(super) plain: Box<[u8]>,
}

pub(super) fn render_soa(zone: &Zone) -> RenderedSoa {
    let key = zone.origin.to_wire();
    let soa_rr = |ttl: u32| {
        let mut out = Vec::with_capacity(64);
        let mut c = Compressor::new(&key, 0);
        c.owner(&mut out);
        let start = rr_header(&mut out, RType::Soa.code(), ttl);
        c.name(&mut out, &zone.soa.mname.to_wire());
        c.name(&mut out, &zone.soa.rname.to_wire());
        for v in [zone.serial.0, zone.soa.refresh, zone.soa.retry, zone.soa.expire, zone.soa.minimum] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        finish_rdlength(&mut out, start);
        out.into_boxed_slice()
    };
    let mut plain = Vec::with_capacity(64);
    let start = rr_header(&mut plain, RType::Soa.code(), zone.soa.ttl);
    zone.soa.write_rdata(zone.serial, &mut plain);
    finish_rdlength(&mut plain, start);
    RenderedSoa {
        positive: soa_rr(zone.soa.ttl),
        negative: soa_rr(zone.soa.ttl.min(zone.soa.minimum)),
        plain: plain.into_boxed_slice(),
    }
}

fn finish_rdlength(out: &mut [u8], rdata_start: usize) {
    // RData::validate bounds RDATA to 65535 octets; saturate rather than wrap regardless.
    let len = u16::try_from(out.len() - rdata_start).unwrap_or(u16::MAX);
    out[rdata_start - 2..rdata_start].copy_from_slice(&len.to_be_bytes());
}

/// RDATA with its names compressed where RFC 3597 4 allows (NS, CNAME, PTR, MX); an SRV
/// target is written in full (RFC 2782) but later names may point into it.
fn write_rdata(c: &mut Compressor<'_>, out: &mut Vec<u8>, rdata: &RData) {
    match rdata {
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => c.name(out, &n.to_wire()),
        RData::Mx { preference, exchange } => {
            out.extend_from_slice(&preference.to_be_bytes());
            c.name(out, &exchange.to_wire());
        }
        RData::Srv { priority, weight, port, target } => {
            for v in [priority, weight, port] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            c.literal_name(out, &target.to_wire());
        }
        other => other.write_wire(out),
    }
}

/// Adds `set`, owned by `name` (wire form `key`), to the node being built: its RRs and
/// their additional section, rendered as one compressed block.
pub(super) fn render_set(node: &mut NodeBuilder, key: &[u8], name: &Fqdn, zone: &Zone, rtype: RType, set: &RecordSet) {
    node.set(rtype.code(), |buf| {
        let mut c = Compressor::new(key, buf.len());
        for rdata in &set.data {
            c.owner(buf);
            let start = rr_header(buf, rtype.code(), set.ttl);
            write_rdata(&mut c, buf, rdata);
            finish_rdlength(buf, start);
        }
        let wire_end = buf.len();
        c.register = false;
        let additional = render_additional(zone, name, rtype, set, &mut c, buf);
        (set.data.len(), wire_end, additional)
    });
}

/// Appends A/AAAA records for the in-zone targets of NS, MX and SRV records, one RRset
/// after the other; returns how many RRs. For a delegation the glue of servers below
/// the cut (in-domain, required by RFC 9471) comes first, sibling glue after it.
fn render_additional(
    zone: &Zone,
    owner: &Fqdn,
    rtype: RType,
    set: &RecordSet,
    c: &mut Compressor<'_>,
    out: &mut Vec<u8>,
) -> usize {
    let mut targets: Vec<&Fqdn> = Vec::new();
    for rdata in &set.data {
        let target = match rdata {
            RData::Ns(t) | RData::Mx { exchange: t, .. } | RData::Srv { target: t, .. } => t,
            _ => continue,
        };
        if target.is_in(&zone.origin) && !targets.contains(&target) {
            targets.push(target);
        }
    }
    if rtype == RType::Ns && owner != &zone.origin {
        targets.sort_by_key(|t| !t.is_in(owner));
    }
    let mut count = 0;
    for target in targets {
        let wire = target.to_wire();
        for t in [RType::A, RType::Aaaa] {
            let Some(glue) = zone.rrset(target, t) else { continue };
            for d in &glue.data {
                c.name(out, &wire);
                let start = rr_header(out, t.code(), glue.ttl);
                d.write_wire(out);
                finish_rdlength(out, start);
                count += 1;
            }
        }
    }
    count
}

/// All zones, keyed by the lowercase wire form of their origin.
#[derive(Debug, Default, Clone)]
pub struct DnsSnapshot {
    zones: HashMap<Box<[u8]>, Arc<ZoneView>>,
    /// Replicated secondaries settings per zone (transfer ACL, NOTIFY targets).
    pub transfer: Arc<BTreeMap<Fqdn, ZoneTransfer>>,
}

impl DnsSnapshot {
    pub fn build(state: &State) -> DnsSnapshot {
        let zones =
            state.zones.values().map(|z| (z.origin.to_wire().into(), Arc::new(ZoneView::build_in(state, z)))).collect();
        DnsSnapshot { zones, transfer: Arc::new(state.transfer.clone()) }
    }

    /// A new snapshot that shares every zone not in `changed` with `self` and rebuilds
    /// (or drops, if gone from `state`) the ones in it.
    pub fn with_zones(&self, state: &State, changed: &BTreeSet<Fqdn>) -> DnsSnapshot {
        let mut zones = self.zones.clone();
        for origin in changed {
            let key: Box<[u8]> = origin.to_wire().into();
            match state.zones.get(origin) {
                Some(z) => zones.insert(key, Arc::new(ZoneView::build_in(state, z))),
                None => zones.remove(&key),
            };
        }
        let transfer =
            if *self.transfer == state.transfer { self.transfer.clone() } else { Arc::new(state.transfer.clone()) };
        DnsSnapshot { zones, transfer }
    }

    /// Like [`Self::with_zones`], but inside a zone whose changed names are known only those
    /// names are rendered again; everything else is shared with `self`.
    pub fn with_changes(&self, state: &State, changes: &ChangeSet) -> DnsSnapshot {
        let mut zones = self.zones.clone();
        for (origin, names) in &changes.zones {
            let key: Box<[u8]> = origin.to_wire().into();
            let Some(z) = state.zones.get(origin) else {
                zones.remove(&key);
                continue;
            };
            let view = match (names, self.zones.get(&key)) {
                (ZoneNames::Some(names), Some(old)) => old.updated(state, z, names),
                _ => ZoneView::build_in(state, z),
            };
            zones.insert(key, Arc::new(view));
        }
        let transfer =
            if *self.transfer == state.transfer { self.transfer.clone() } else { Arc::new(state.transfer.clone()) };
        DnsSnapshot { zones, transfer }
    }

    /// The zone with exactly this origin (lowercase wire form).
    pub fn zone(&self, origin_lower_wire: &[u8]) -> Option<&Arc<ZoneView>> {
        self.zones.get(origin_lower_wire)
    }

    pub fn zones(&self) -> impl Iterator<Item = &Arc<ZoneView>> {
        self.zones.values()
    }

    /// Longest-suffix match of a lowercase wire name against the zone origins.
    /// Returns the zone and the offset of its origin inside `lower_name`.
    pub fn find_zone(&self, lower_name: &[u8], label_offsets: &[u8]) -> Option<(&ZoneView, usize)> {
        let suffixes = label_offsets.iter().map(|&o| o as usize).chain([lower_name.len().saturating_sub(1)]);
        for off in suffixes {
            if let Some(zone) = lower_name.get(off..).and_then(|s| self.zones.get(s)) {
                return Some((zone, off));
            }
        }
        None
    }
}

/// Publishes a fresh [`DnsSnapshot`] after every state change.
#[derive(Clone)]
pub struct SnapshotPublisher {
    pub current: Arc<ArcSwap<DnsSnapshot>>,
}

impl SnapshotPublisher {
    pub fn new() -> Self {
        SnapshotPublisher { current: Arc::new(ArcSwap::from_pointee(DnsSnapshot::default())) }
    }
}

impl Default for SnapshotPublisher {
    fn default() -> Self {
        Self::new()
    }
}

impl StateObserver for SnapshotPublisher {
    fn state_changed(&self, state: &State, changed_zones: Option<&BTreeSet<Fqdn>>, _applied_index: u64) {
        let old = self.current.load_full();
        let new = match changed_zones {
            Some(changed) => old.with_zones(state, changed),
            None => DnsSnapshot::build(state),
        };
        self.swap(state, &old, new, |origin| changed_zones.is_none_or(|c| c.contains(origin)));
    }

    fn state_changed_in(&self, state: &State, changes: Option<&ChangeSet>, _applied_index: u64) {
        let old = self.current.load_full();
        let new = match changes {
            Some(changes) => old.with_changes(state, changes),
            None => DnsSnapshot::build(state),
        };
        self.swap(state, &old, new, |origin| changes.is_none_or(|c| c.zones.contains_key(origin)));
        let rebuilt = changes.is_none_or(|c| c.zones.values().any(|n| *n == ZoneNames::All));
        if rebuilt {
            drop(old);
            // The parse temporaries and the previous version are freed by now, the import
            // command once its entry and its HTTP request are done: one trim after both.
            crate::heap::release_soon();
        }
    }
}

impl SnapshotPublisher {
    /// Updates the zone gauges and publishes `new`.
    fn swap(&self, state: &State, old: &DnsSnapshot, new: DnsSnapshot, touched: impl Fn(&Fqdn) -> bool) {
        for gone in old.zones().filter(|z| !state.zones.contains_key(&z.origin)) {
            let label = gone.origin.to_string();
            let _ = ZONE_SERIAL_GAUGE.remove_label_values(&[label.as_str()]);
            let _ = ZONE_RECORDS_GAUGE.remove_label_values(&[label.as_str()]);
        }
        for zone in new.zones() {
            if touched(&zone.origin) {
                let label = zone.origin.to_string();
                ZONE_SERIAL_GAUGE.with_label_values(&[label.as_str()]).set(zone.serial as i64);
                ZONE_RECORDS_GAUGE.with_label_values(&[label.as_str()]).set(zone.record_count as i64);
            }
        }
        self.current.store(Arc::new(new));
    }
}
