//! The replicated state and the primitives every command family applies through:
//! `State`, what an entry changed (`Applied`), the per-entry bookkeeping (`Tracker`) and
//! the one way a record set changes (`set_rrset`, which keeps the checks, the events and
//! the IXFR journal in one place). The families (`apply_zone`, `apply_registry`,
//! `apply_rfc2136`, `apply_acme`) build on this file; `apply` dispatches to them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::command::{ApplyError, Event};
use super::journal::{Journal, ZoneChange};
use super::registry::{HistoryEntry, Registry};
use super::session::{ClusterVersion, RequestId, RETAIN_AFTER_DEADLINE_MS};
use crate::model::{Fqdn, Node, RData, RType, RecordSet, Serial, Zone, ZoneTransfer};

/// Everything the cluster agrees on. Serialized whole into Raft snapshots, in the oldest
/// format that can express it (`state::format` has the layouts and the migrations).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub zones: BTreeMap<Fqdn, Zone>,
    /// Last serial of each deleted zone, so a zone created again under the same name
    /// continues after it and a secondary never sees the serial go backwards.
    pub retired_serials: BTreeMap<Fqdn, Serial>,
    /// Secondaries per zone (transfer ACL, NOTIFY targets, IXFR window).
    pub transfer: BTreeMap<Fqdn, ZoneTransfer>,
    /// IXFR history per zone, derived by apply (see `journal`).
    pub journals: BTreeMap<Fqdn, Journal>,
    /// Raft node ids removed from the cluster: never reused.
    pub retired_nodes: BTreeSet<u64>,
    /// Dynamic hosts, users, tokens, domains and update history.
    pub registry: Registry,
    /// TSIG keys and policy, records with a lifetime, acme-dns accounts, UPDATE history.
    pub rfc2136: super::rfc2136::Rfc2136State,
    /// DNS cookie server secrets shared by the cluster.
    pub cookie_secrets: crate::model::cookie::CookieSecrets,
    /// Recently applied request ids with their outcome (exactly-once; format 2).
    pub sessions: Sessions,
    /// The data format every member understands (format 2; 1 until raised).
    pub cluster_version: ClusterVersion,
}

/// What an applied command changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub events: Vec<Event>,
    /// Zones whose serial changed in this entry, with the new serial.
    pub serials: Vec<(Fqdn, Serial)>,
}

impl Applied {
    pub fn changed(&self) -> bool {
        !self.events.is_empty()
    }
}

/// Per-entry bookkeeping: which zones changed and which had their serial set explicitly.
#[derive(Default)]
pub(super) struct Tracker {
    pub(super) events: Vec<Event>,
    pub(super) touched: BTreeSet<Fqdn>,
    pub(super) serial_set: BTreeSet<Fqdn>,
    pub(super) deleted: BTreeSet<Fqdn>,
    /// What changed per zone, for the IXFR journal.
    pub(super) changes: BTreeMap<Fqdn, ZoneChange>,
    /// The log index of the entry being applied (0 outside Raft).
    pub(super) index: u64,
    /// History entries of this entry: (host, its zone, entry, retention). Their serial is
    /// filled in once the entry's serial bumps are known.
    pub(super) history: Vec<(Fqdn, Fqdn, HistoryEntry, u32)>,
}

impl Tracker {
    /// Notes the zone as it is before this entry's first change to it.
    pub(super) fn change(&mut self, zone: &Zone) -> &mut ZoneChange {
        self.changes
            .entry(zone.origin.clone())
            .or_insert_with(|| ZoneChange { before: Some((zone.soa.clone(), zone.serial)), ..ZoneChange::default() })
    }
}

impl State {
    pub fn zone_for(&self, name: &Fqdn) -> Option<&Zone> {
        // The longest matching origin: walk up from the name.
        let mut cur = Some(name.clone());
        while let Some(n) = cur {
            if let Some(z) = self.zones.get(&n) {
                return Some(z);
            }
            cur = n.parent();
        }
        None
    }

    pub(super) fn zone_mut(&mut self, origin: &Fqdn) -> Result<&mut Zone, ApplyError> {
        self.zones.get_mut(origin).ok_or_else(|| ApplyError::NoSuchZone(origin.clone()))
    }

    pub(super) fn set_rrset(
        &mut self,
        zone: &Fqdn,
        name: &Fqdn,
        rtype: RType,
        ttl: u32,
        data: Vec<RData>,
        t: &mut Tracker,
    ) -> Result<(), ApplyError> {
        let z = self.zone_mut(zone)?;
        check_record(z, name, rtype, &data)?;
        let new = RecordSet::new(ttl, data);
        let old = z.rrset(name, rtype).cloned();
        if new.data.is_empty() && old.is_none() {
            return Ok(());
        }
        if old.as_ref() == Some(&new) {
            return Ok(());
        }
        t.change(z).sets.entry((name.clone(), rtype)).or_insert_with(|| old.clone());
        if new.data.is_empty() {
            let node = z.nodes.get_mut(name).expect("old set exists, so its node does");
            node.remove(&rtype);
            if node.is_empty() {
                z.nodes.remove(name);
            }
        } else {
            z.nodes.entry(name.clone()).or_default().insert(rtype, new.clone());
        }
        t.touched.insert(zone.clone());
        t.events.push(Event::RecordSetChanged {
            zone: zone.clone(),
            name: name.clone(),
            rtype,
            old: old.map(|s| s.data.into_vec()).unwrap_or_default(),
            new: new.data.into_vec(),
            ttl,
        });
        Ok(())
    }
}

/// Checks that (name, type, data) may stand in zone `z` as it is now.
pub(super) fn check_record(z: &Zone, name: &Fqdn, rtype: RType, data: &[RData]) -> Result<(), ApplyError> {
    check_record_at(&z.origin, z.nodes.get(name), name, rtype, data)
}

/// [`check_record`] against the owner's current record sets (`node`) in zone `origin`.
pub(super) fn check_record_at(
    origin: &Fqdn,
    node: Option<&Node>,
    name: &Fqdn,
    rtype: RType,
    data: &[RData],
) -> Result<(), ApplyError> {
    if !name.is_in(origin) {
        return Err(ApplyError::OutOfZone { name: name.clone(), zone: origin.clone() });
    }
    if rtype == RType::Soa {
        return Err(ApplyError::SoaNotARecordSet);
    }
    if let Some(bad) = data.iter().find(|d| d.rtype() != rtype) {
        return Err(ApplyError::TypeMismatch { expected: rtype, found: bad.rtype() });
    }
    for d in data {
        d.validate().map_err(|e| ApplyError::InvalidData(e.to_string()))?;
    }
    if data.is_empty() {
        if rtype == RType::Ns && name == origin {
            return Err(ApplyError::ApexNsRequired(origin.clone()));
        }
        return Ok(());
    }
    if rtype == RType::Cname {
        if name == origin {
            return Err(ApplyError::CnameAtApex(name.clone()));
        }
        if data.len() > 1 {
            return Err(ApplyError::InvalidData(format!("{name} can hold only one CNAME")));
        }
    }
    if let Some(node) = node {
        let others = node.keys().any(|t| *t != rtype);
        if others && (rtype == RType::Cname || node.contains_key(&RType::Cname)) {
            return Err(ApplyError::CnameConflict(name.clone()));
        }
    }
    Ok(())
}

/// What was answered for one applied request (`state::session`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRequest {
    /// The log index of the entry that applied it.
    pub index: u64,
    pub deadline: u64,
    pub outcome: Result<Applied, ApplyError>,
}

/// The recently applied request ids, replicated (part of `State` and its snapshots).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    /// The log's clock: the latest proposer time (unix ms) of any applied request.
    pub clock: u64,
    pub applied: BTreeMap<RequestId, AppliedRequest>,
    /// (deadline, id) of `applied`, for eviction in deadline order.
    pub by_deadline: BTreeSet<(u64, RequestId)>,
}

/// Whether a request was seen before.
pub(super) enum Seen {
    /// Applied already: answer this again.
    Applied(Result<Applied, ApplyError>),
    /// Too late to tell (its deadline is far behind the log's clock): refuse it.
    Expired,
    New,
}

impl Sessions {
    pub fn is_empty(&self) -> bool {
        *self == Sessions::default()
    }

    /// Advances the clock to `at` and forgets the ids whose time is up.
    pub(super) fn tick(&mut self, at: u64) {
        self.clock = self.clock.max(at);
        while let Some(&(deadline, id)) = self.by_deadline.first() {
            if deadline.saturating_add(RETAIN_AFTER_DEADLINE_MS) >= self.clock {
                break;
            }
            self.by_deadline.pop_first();
            self.applied.remove(&id);
        }
    }

    pub(super) fn seen(&self, id: RequestId, deadline: u64) -> Seen {
        match self.applied.get(&id) {
            Some(a) => Seen::Applied(a.outcome.clone()),
            None if deadline.saturating_add(RETAIN_AFTER_DEADLINE_MS) < self.clock => Seen::Expired,
            None => Seen::New,
        }
    }

    pub(super) fn record(&mut self, id: RequestId, index: u64, deadline: u64, outcome: Result<Applied, ApplyError>) {
        if let Some(old) = self.applied.insert(id, AppliedRequest { index, deadline, outcome }) {
            self.by_deadline.remove(&(old.deadline, id));
        }
        self.by_deadline.insert((deadline, id));
    }
}
