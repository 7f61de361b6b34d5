use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::command::{ApplyError, Command, Event, RecordSpec};
use super::journal::{self, Journal, ZoneChange, DEFAULT_JOURNAL_VERSIONS};
use super::registry::{HistoryEntry, Host, Registry};
use crate::model::{Fqdn, Node, RData, RType, RecordSet, Serial, SoaParams, Zone, ZoneTransfer};

/// Everything the cluster agrees on. Serialized whole into Raft snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub zones: BTreeMap<Fqdn, Zone>,
    /// Last serial of each deleted zone, so a zone created again under the same name
    /// continues after it and a secondary never sees the serial go backwards.
    pub retired_serials: BTreeMap<Fqdn, Serial>,
    /// Secondaries per zone (transfer ACL, NOTIFY targets, IXFR window).
    #[serde(default)]
    pub transfer: BTreeMap<Fqdn, ZoneTransfer>,
    /// IXFR history per zone, derived by apply (see `journal`).
    #[serde(default)]
    pub journals: BTreeMap<Fqdn, Journal>,
    /// Raft node ids removed from the cluster: never reused.
    #[serde(default)]
    pub retired_nodes: BTreeSet<u64>,
    /// Dynamic hosts, users, tokens, domains and update history.
    #[serde(default)]
    pub registry: Registry,
    /// TSIG keys and policy, records with a lifetime, acme-dns accounts, UPDATE history.
    #[serde(default)]
    pub rfc2136: super::rfc2136::Rfc2136State,
    /// DNS cookie server secrets shared by the cluster.
    #[serde(default)]
    pub cookie_secrets: crate::model::cookie::CookieSecrets,
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
    serial_set: BTreeSet<Fqdn>,
    deleted: BTreeSet<Fqdn>,
    /// What changed per zone, for the IXFR journal.
    changes: BTreeMap<Fqdn, ZoneChange>,
    /// The log index of the entry being applied (0 outside Raft).
    pub(super) index: u64,
    /// History entries of this entry: (host, its zone, entry, retention). Their serial is
    /// filled in once the entry's serial bumps are known.
    pub(super) history: Vec<(Fqdn, Fqdn, HistoryEntry, u32)>,
}

impl Tracker {
    /// Notes the zone as it is before this entry's first change to it.
    fn change(&mut self, zone: &Zone) -> &mut ZoneChange {
        self.changes
            .entry(zone.origin.clone())
            .or_insert_with(|| ZoneChange { before: Some((zone.soa.clone(), zone.serial)), ..ZoneChange::default() })
    }
}

type Backup =
    (BTreeMap<Fqdn, Option<Zone>>, BTreeMap<Fqdn, Serial>, BTreeMap<Fqdn, ZoneTransfer>, BTreeMap<Fqdn, Option<Host>>);

impl State {
    /// Applies a command outside the log (tests, tools): as entry index 0.
    pub fn apply(&mut self, command: &Command) -> Result<Applied, ApplyError> {
        self.apply_at(0, command)
    }

    /// Applies the command of log entry `index`. On error nothing has changed.
    pub fn apply_at(&mut self, index: u64, command: &Command) -> Result<Applied, ApplyError> {
        let mut tracker = Tracker { index, ..Tracker::default() };
        match command {
            Command::Batch(cmds) => {
                if cmds.iter().any(|c| matches!(c, Command::Batch(_))) {
                    return Err(ApplyError::NestedBatch);
                }
                if cmds.iter().any(|c| matches!(c, Command::RetireNode { .. })) {
                    return Err(ApplyError::MembershipInBatch);
                }
                if let Some(c) = cmds.iter().find(|c| {
                    (super::apply_registry::is_registry(c) && !matches!(c, Command::UpdateAddresses { .. }))
                        || super::apply_update::is_rfc2136(c)
                }) {
                    return Err(ApplyError::NotInBatch(c.kind().into()));
                }
                let backup = self.clone_touched(cmds);
                for cmd in cmds {
                    if let Err(e) = self.apply_one(cmd, &mut tracker) {
                        self.restore(backup);
                        return Err(e);
                    }
                }
            }
            Command::Group(cmds) => return Ok(merged(self.apply_group(index, cmds))),
            cmd => self.apply_one(cmd, &mut tracker)?,
        }
        Ok(self.finish(tracker))
    }

    /// Applies the commands of a `Group` entry, each as if it were its own entry at
    /// `index` (its own serial bump, journal entry and result): a refused command leaves
    /// the others alone.
    pub fn apply_group(&mut self, index: u64, commands: &[Command]) -> Vec<Result<Applied, ApplyError>> {
        commands
            .iter()
            .map(|c| match c {
                Command::Group(_) => Err(ApplyError::NestedBatch),
                c => self.apply_at(index, c),
            })
            .collect()
    }

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

    fn finish(&mut self, mut t: Tracker) -> Applied {
        let mut serials = Vec::new();
        for origin in &t.touched {
            if t.deleted.contains(origin) {
                continue;
            }
            if let Some(zone) = self.zones.get_mut(origin) {
                if !t.serial_set.contains(origin) {
                    zone.serial = zone.serial.next();
                }
                serials.push((origin.clone(), zone.serial));
                let max =
                    self.transfer.get(origin).and_then(|x| x.journal_versions).unwrap_or(DEFAULT_JOURNAL_VERSIONS);
                // A change apply did not describe (no tracker entry) clears the journal.
                let change =
                    t.changes.remove(origin).unwrap_or(ZoneChange { untracked: true, ..ZoneChange::default() });
                journal::record(self.journals.entry(origin.clone()).or_default(), zone, change, max);
            }
        }
        for origin in &t.deleted {
            self.journals.remove(origin);
            self.transfer.remove(origin);
        }
        for (host, zone, mut entry, limit) in t.history {
            entry.serial = self.zones.get(&zone).map(|z| z.serial).unwrap_or_default();
            self.registry.record(&host, entry, limit);
        }
        let mut events = t.events;
        events.extend(serials.iter().map(|(zone, serial)| Event::SerialBumped { zone: zone.clone(), serial: *serial }));
        Applied { events, serials }
    }

    fn clone_touched(&self, cmds: &[Command]) -> Backup {
        let mut zones = BTreeMap::new();
        let mut hosts = BTreeMap::new();
        for cmd in cmds {
            if let Some(z) = zone_of(cmd) {
                zones.insert(z.clone(), self.zones.get(z).cloned());
            }
            if let Command::DeleteZone { origin } = cmd {
                for h in self.registry.hosts.values().filter(|h| &h.zone == origin) {
                    hosts.insert(h.fqdn.clone(), Some(h.clone()));
                }
            }
            if let Command::UpdateAddresses { fqdn, .. } = cmd {
                let host = self.registry.hosts.get(fqdn).cloned();
                if let Some(h) = &host {
                    zones.insert(h.zone.clone(), self.zones.get(&h.zone).cloned());
                }
                hosts.insert(fqdn.clone(), host);
            }
        }
        (zones, self.retired_serials.clone(), self.transfer.clone(), hosts)
    }

    fn restore(&mut self, (zones, retired, transfer, hosts): Backup) {
        for (origin, zone) in zones {
            match zone {
                Some(z) => self.zones.insert(origin, z),
                None => self.zones.remove(&origin),
            };
        }
        self.retired_serials = retired;
        self.transfer = transfer;
        for (fqdn, host) in hosts {
            match host {
                Some(h) => self.registry.hosts.insert(fqdn, h),
                None => self.registry.hosts.remove(&fqdn),
            };
        }
    }

    fn zone_mut(&mut self, origin: &Fqdn) -> Result<&mut Zone, ApplyError> {
        self.zones.get_mut(origin).ok_or_else(|| ApplyError::NoSuchZone(origin.clone()))
    }

    fn apply_one(&mut self, command: &Command, t: &mut Tracker) -> Result<(), ApplyError> {
        match command {
            Command::CreateZone { origin, soa, ns, ns_ttl, serial } => {
                self.create_zone(origin, soa, ns, *ns_ttl, *serial, t)
            }
            Command::DeleteZone { origin } => {
                let zone = self.zones.remove(origin).ok_or_else(|| ApplyError::NoSuchZone(origin.clone()))?;
                self.retired_serials.insert(origin.clone(), zone.serial);
                self.registry.remove_hosts_in(origin);
                t.deleted.insert(origin.clone());
                t.events.push(Event::ZoneDeleted { origin: origin.clone(), last_serial: zone.serial });
                Ok(())
            }
            Command::UpdateSoa { zone, soa } => {
                validate_soa(zone, soa)?;
                let z = self.zones.get_mut(zone).ok_or_else(|| ApplyError::NoSuchZone(zone.clone()))?;
                if &z.soa != soa {
                    t.change(z);
                    z.soa = soa.clone();
                    t.touched.insert(zone.clone());
                    t.events.push(Event::SoaUpdated { zone: zone.clone() });
                }
                Ok(())
            }
            Command::SetRecordSet { zone, name, rtype, ttl, data } => {
                self.set_rrset(zone, name, *rtype, *ttl, data.clone(), t)
            }
            Command::AddRecords { zone, name, rtype, ttl, data } => {
                let mut merged = self.zone_mut(zone)?.rrset(name, *rtype).map(|s| s.data.to_vec()).unwrap_or_default();
                merged.extend(data.iter().cloned());
                self.set_rrset(zone, name, *rtype, *ttl, merged, t)
            }
            Command::DeleteRecordSet { zone, name, rtype } => self.set_rrset(zone, name, *rtype, 0, Vec::new(), t),
            Command::ReplaceZone { zone, soa, serial, records } => self.replace_zone(zone, soa, *serial, records, t),
            Command::Batch(_) | Command::Group(_) => Err(ApplyError::NestedBatch),
            Command::SetZoneTransfer { zone, transfer } => {
                self.zone_mut(zone)?;
                if self.transfer.get(zone) != Some(transfer) {
                    self.transfer.insert(zone.clone(), transfer.clone());
                    t.events.push(Event::ZoneTransferChanged { zone: zone.clone() });
                }
                Ok(())
            }
            Command::RetireNode { id } => {
                if self.retired_nodes.insert(*id) {
                    t.events.push(Event::NodeRetired { id: *id });
                }
                Ok(())
            }
            Command::SetTsigKey { .. }
            | Command::DeleteTsigKey { .. }
            | Command::DnsUpdate { .. }
            | Command::AcmeRegister { .. }
            | Command::AcmeSetTxt { .. }
            | Command::ExpireRecords { .. } => self.apply_rfc2136(command, t),
            Command::SetCookieSecret { secret, at } => {
                if self.cookie_secrets.rotate(secret.0, *at) {
                    t.events.push(Event::CookieSecretRotated { at: *at });
                }
                Ok(())
            }
            registry => self.apply_registry(registry, t),
        }
    }

    fn create_zone(
        &mut self,
        origin: &Fqdn,
        soa: &SoaParams,
        ns: &[Fqdn],
        ns_ttl: u32,
        serial: Option<Serial>,
        t: &mut Tracker,
    ) -> Result<(), ApplyError> {
        if self.zones.contains_key(origin) {
            return Err(ApplyError::ZoneExists(origin.clone()));
        }
        if let Some(existing) = self.zones.keys().find(|z| z.is_in(origin) || origin.is_in(z)) {
            return Err(ApplyError::ZoneOverlap { new: origin.clone(), existing: existing.clone() });
        }
        validate_soa(origin, soa)?;
        if ns.is_empty() {
            return Err(ApplyError::ApexNsRequired(origin.clone()));
        }
        let wanted = serial.unwrap_or(Serial(1));
        let serial = match self.retired_serials.get(origin) {
            Some(old) => old.advance_to(wanted),
            None => wanted,
        };
        let mut zone = Zone::new(origin.clone(), soa.clone(), serial);
        let ns_data: Vec<RData> = ns.iter().cloned().map(RData::Ns).collect();
        zone.nodes.entry(origin.clone()).or_default().insert(RType::Ns, RecordSet::new(ns_ttl, ns_data));
        self.zones.insert(origin.clone(), zone);
        t.changes.entry(origin.clone()).or_default().untracked = true;
        t.touched.insert(origin.clone());
        t.serial_set.insert(origin.clone());
        t.deleted.remove(origin);
        t.events.push(Event::ZoneCreated { origin: origin.clone(), serial });
        Ok(())
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

    fn replace_zone(
        &mut self,
        zone: &Fqdn,
        soa: &SoaParams,
        serial: Option<Serial>,
        records: &[RecordSpec],
        t: &mut Tracker,
    ) -> Result<(), ApplyError> {
        validate_soa(zone, soa)?;
        let current = self.zones.get(zone).ok_or_else(|| ApplyError::NoSuchZone(zone.clone()))?;
        let mut next = Zone::new(zone.clone(), soa.clone(), current.serial);
        next.nodes = build_nodes(zone, records)?;
        if next.rrset(zone, RType::Ns).is_none() {
            return Err(ApplyError::ApexNsRequired(zone.clone()));
        }
        if next.nodes == current.nodes && next.soa == current.soa {
            return Ok(());
        }
        next.serial = match serial {
            // Created earlier in this same entry with this serial (zone file import of a
            // new zone): nobody has seen the empty zone, keep the file's serial.
            Some(s) if s == current.serial && t.serial_set.contains(zone) => s,
            Some(s) => current.serial.advance_to(s),
            None => current.serial.next(),
        };
        let change = t.change(current);
        let untouched = change.sets.is_empty() && change.replaced.is_none();
        let old = self.zones.insert(zone.clone(), next);
        let change = t.changes.entry(zone.clone()).or_default();
        match old {
            Some(old) if untouched => change.replaced = Some(old),
            _ => change.untracked = true,
        }
        t.touched.insert(zone.clone());
        t.serial_set.insert(zone.clone());
        t.events.push(Event::ZoneReplaced { zone: zone.clone() });
        Ok(())
    }
}

fn zone_of(cmd: &Command) -> Option<&Fqdn> {
    match cmd {
        Command::CreateZone { origin, .. } | Command::DeleteZone { origin } => Some(origin),
        Command::UpdateSoa { zone, .. }
        | Command::SetRecordSet { zone, .. }
        | Command::AddRecords { zone, .. }
        | Command::DeleteRecordSet { zone, .. }
        | Command::ReplaceZone { zone, .. } => Some(zone),
        Command::SetZoneTransfer { zone, .. } => Some(zone),
        _ => None,
    }
}

fn validate_soa(origin: &Fqdn, soa: &SoaParams) -> Result<(), ApplyError> {
    if origin.is_wildcard() {
        return Err(ApplyError::InvalidData(format!("zone name {origin} cannot be a wildcard")));
    }
    if soa.refresh == 0 || soa.retry == 0 || soa.expire == 0 {
        return Err(ApplyError::InvalidData("SOA refresh, retry and expire must be positive".into()));
    }
    Ok(())
}

/// The owner names of a replaced zone, built from its records in one pass.
///
/// The records are visited in (name, type) order through one index array, and the owners
/// come out sorted, so the map is bulk-built with full B-tree leaves and every allocation
/// that outlives the import (names, record sets, tree nodes) is made in order, next to the
/// others, with no short-lived allocation between them. (Grouping through a temporary
/// `BTreeMap` first left its freed nodes as holes between the zone's: ~300 bytes per record
/// of RSS that glibc could not give back.)
fn build_nodes(origin: &Fqdn, records: &[RecordSpec]) -> Result<BTreeMap<Fqdn, Node>, ApplyError> {
    let key = |i: usize| (&records[i].name, records[i].data.rtype());
    let mut order: Vec<usize> = (0..records.len()).collect();
    // Stable: records of one set keep their order in the import.
    order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    let mut owners: Vec<(Fqdn, Node)> = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let name = &records[order[i]].name;
        let mut node = Node::new();
        while i < order.len() && records[order[i]].name == *name {
            let rtype = records[order[i]].data.rtype();
            let end = i + order[i..].iter().take_while(|&&k| key(k) == (name, rtype)).count();
            let ttl = order[i..end].iter().map(|&k| records[k].ttl).min().unwrap_or(0);
            let data: Vec<RData> = order[i..end].iter().map(|&k| records[k].data.clone()).collect();
            check_record_at(origin, node_if_any(&node), name, rtype, &data)?;
            node.insert(rtype, RecordSet::new(ttl, data));
            i = end;
        }
        owners.push((name.clone(), node));
    }
    // Sorted and unique: `collect` bulk-builds the tree.
    Ok(owners.into_iter().collect())
}

fn node_if_any(node: &Node) -> Option<&Node> {
    (!node.is_empty()).then_some(node)
}

/// Checks that (name, type, data) may stand in zone `z` as it is now.
pub(super) fn check_record(z: &Zone, name: &Fqdn, rtype: RType, data: &[RData]) -> Result<(), ApplyError> {
    check_record_at(&z.origin, z.nodes.get(name), name, rtype, data)
}

/// [`check_record`] against the owner's current record sets (`node`) in zone `origin`.
fn check_record_at(
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

/// What a group changed as a whole (for callers of `apply_at` that want one answer):
/// the events of its applied commands and each zone's last serial.
fn merged(results: Vec<Result<Applied, ApplyError>>) -> Applied {
    let mut all = Applied::default();
    for applied in results.into_iter().flatten() {
        all.events.extend(applied.events);
        for (zone, serial) in applied.serials {
            match all.serials.iter_mut().find(|(z, _)| *z == zone) {
                Some(s) => s.1 = serial,
                None => all.serials.push((zone, serial)),
            }
        }
    }
    all
}
