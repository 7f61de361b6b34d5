//! Per-zone IXFR journal: for each entry that changed a zone, the RRs it removed and
//! added (RFC 1995 difference sequences), kept for a bounded window.
//!
//! Architecture invariant: the journal is derived inside `State::apply` from the entry's
//! own bookkeeping, so it is identical on every node and travels in Raft snapshots.
//! Entries are `Arc`s so the DNS snapshot can share them without copying.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Fqdn, RData, RType, RecordSet, Serial, SoaParams, Zone};

/// Versions kept per zone unless the zone's transfer settings say otherwise.
pub const DEFAULT_JOURNAL_VERSIONS: u32 = 1000;
/// RRs kept per zone at least, whatever the zone's size (see [`Journal::prune`]).
const MIN_JOURNAL_RRS: usize = 4096;

/// One resource record in a difference sequence. SOA records are not in here: they are
/// `from_soa`/`to_soa` of the entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRr {
    pub name: Fqdn,
    pub ttl: u32,
    pub data: RData,
}

/// The change from one serial to the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub from: Serial,
    pub from_soa: SoaParams,
    pub to: Serial,
    pub to_soa: SoaParams,
    pub removed: Vec<DiffRr>,
    pub added: Vec<DiffRr>,
}

impl JournalEntry {
    fn rr_count(&self) -> usize {
        self.removed.len() + self.added.len()
    }
}

/// Consecutive entries: `entries[i].to == entries[i + 1].from`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub entries: VecDeque<Arc<JournalEntry>>,
    /// Sum of `removed.len() + added.len()` over the entries.
    pub rr_count: usize,
}

impl Journal {
    /// The entries leading from `serial` to the newest one, `None` if `serial` is not the
    /// start of a kept entry (older than the window, unknown, or current).
    pub fn since(&self, serial: Serial) -> Option<impl Iterator<Item = &Arc<JournalEntry>>> {
        let start = self.entries.iter().position(|e| e.from == serial)?;
        Some(self.entries.iter().skip(start))
    }

    fn push(&mut self, entry: JournalEntry) {
        // A gap (journal cleared, or a change that was not recorded) breaks the chain:
        // older entries can no longer lead to the current serial.
        if self.entries.back().is_some_and(|last| last.to != entry.from) {
            self.clear();
        }
        self.rr_count += entry.rr_count();
        self.entries.push_back(Arc::new(entry));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.rr_count = 0;
    }

    /// Drops the oldest entries beyond `max_versions`, and while the journal holds more
    /// RRs than twice the zone (or [`MIN_JOURNAL_RRS`]): past that an AXFR is cheaper and
    /// memory stays proportional to the zone.
    /// `zone_records` is only called when the journal is over its minimum size: counting
    /// a big zone's records on every update would cost more than the update.
    fn prune(&mut self, max_versions: u32, zone_records: impl FnOnce() -> usize) {
        let max_rrs =
            if self.rr_count > MIN_JOURNAL_RRS { (zone_records() * 2).max(MIN_JOURNAL_RRS) } else { MIN_JOURNAL_RRS };
        while self.entries.len() > max_versions as usize || (self.rr_count > max_rrs && !self.entries.is_empty()) {
            if let Some(e) = self.entries.pop_front() {
                self.rr_count -= e.rr_count();
            }
        }
    }
}

/// What one log entry did to one zone, collected by apply before the zone changes.
#[derive(Default)]
pub(super) struct ZoneChange {
    /// SOA and serial before the entry; `None` when the zone was created by this entry.
    pub before: Option<(SoaParams, Serial)>,
    /// Pre-image of every changed RRset (first sight wins): `None` = did not exist.
    pub sets: BTreeMap<(Fqdn, RType), Option<RecordSet>>,
    /// The whole zone before a `ReplaceZone`, when no RRset changed before it in the entry.
    pub replaced: Option<Zone>,
    /// Something happened that this entry's diff cannot describe: clear the journal.
    pub untracked: bool,
}

/// Records the journal entry for a zone changed by one log entry (`zone` is the zone after
/// the entry, serial already bumped), then prunes.
pub(super) fn record(journal: &mut Journal, zone: &Zone, change: ZoneChange, max_versions: u32) {
    let Some((from_soa, from)) = change.before else {
        // A new zone: nobody holds an older version of it.
        journal.clear();
        return;
    };
    if change.untracked || max_versions == 0 {
        journal.clear();
        return;
    }
    let (removed, added) = match &change.replaced {
        Some(old) => {
            let (removed, added) = zone_diff(old, zone);
            // A diff as large as the zone saves nothing over AXFR: do not keep it.
            if (removed.len() + added.len()) * 2 > zone.record_count().max(64) {
                journal.clear();
                return;
            }
            (removed, added)
        }
        None => sets_diff(zone, &change.sets),
    };
    journal.push(JournalEntry { from, from_soa, to: zone.serial, to_soa: zone.soa.clone(), removed, added });
    journal.prune(max_versions, || zone.record_count());
}

fn rrs<'a>(name: &'a Fqdn, set: &'a RecordSet) -> impl Iterator<Item = DiffRr> + 'a {
    set.data.iter().map(move |d| DiffRr { name: name.clone(), ttl: set.ttl, data: d.clone() })
}

/// One RRset's change: with equal TTLs only the differing RRs; a TTL change replaces the
/// whole set (every RR of an RRset carries the set's TTL).
fn set_diff(
    name: &Fqdn,
    old: Option<&RecordSet>,
    new: Option<&RecordSet>,
    removed: &mut Vec<DiffRr>,
    added: &mut Vec<DiffRr>,
) {
    match (old, new) {
        (Some(o), Some(n)) if o.ttl == n.ttl => {
            removed.extend(rrs(name, o).filter(|r| !n.data.contains(&r.data)));
            added.extend(rrs(name, n).filter(|r| !o.data.contains(&r.data)));
        }
        (o, n) => {
            removed.extend(o.into_iter().flat_map(|s| rrs(name, s)));
            added.extend(n.into_iter().flat_map(|s| rrs(name, s)));
        }
    }
}

fn sets_diff(zone: &Zone, sets: &BTreeMap<(Fqdn, RType), Option<RecordSet>>) -> (Vec<DiffRr>, Vec<DiffRr>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for ((name, rtype), old) in sets {
        set_diff(name, old.as_ref(), zone.rrset(name, *rtype), &mut removed, &mut added);
    }
    (removed, added)
}

/// Every RRset that differs between two versions of a zone.
fn zone_diff(old: &Zone, new: &Zone) -> (Vec<DiffRr>, Vec<DiffRr>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let mut keys: Vec<(&Fqdn, RType)> = Vec::new();
    for z in [old, new] {
        keys.extend(z.nodes.iter().flat_map(|(name, node)| node.keys().map(move |t| (name, *t))));
    }
    keys.sort();
    keys.dedup();
    for (name, t) in keys {
        let (o, n) = (old.rrset(name, t), new.rrset(name, t));
        if o != n {
            set_diff(name, o, n, &mut removed, &mut added);
        }
    }
    (removed, added)
}

/// Applies one entry to a zone at `entry.from`, as a secondary would. Returns false when the
/// zone is not at `entry.from` or a removed RR is missing.
pub fn apply_entry(zone: &mut Zone, entry: &JournalEntry) -> bool {
    if zone.serial != entry.from || zone.soa != entry.from_soa {
        return false;
    }
    for rr in &entry.removed {
        let t = rr.data.rtype();
        let Some(node) = zone.nodes.get_mut(&rr.name) else { return false };
        let Some(set) = node.get_mut(&t) else { return false };
        let Some(i) = set.data.iter().position(|d| d == &rr.data) else { return false };
        set.data.remove(i);
        if set.data.is_empty() {
            node.remove(&t);
        }
        if node.is_empty() {
            zone.nodes.remove(&rr.name);
        }
    }
    for rr in &entry.added {
        let node = zone.nodes.entry(rr.name.clone()).or_default();
        let set = node.get_or_insert_with(rr.data.rtype(), || RecordSet::new(rr.ttl, Vec::new()));
        set.ttl = rr.ttl;
        set.add(rr.data.clone());
    }
    zone.serial = entry.to;
    zone.soa = entry.to_soa.clone();
    true
}

#[cfg(test)]
mod tests;
