//! Apply for the zone family: zones, their SOA, record sets, zone file imports and
//! transfer settings.

use std::collections::BTreeMap;

use super::command::{ApplyError, Command, Event, Family};
use super::machine::{check_record_at, State, Tracker};
use crate::model::{Fqdn, Node, RData, RType, RecordSet, RecordSpec, Serial, SoaParams, Zone};

impl State {
    pub(super) fn apply_zone(&mut self, command: &Command, t: &mut Tracker) -> Result<(), ApplyError> {
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
            Command::SetZoneTransfer { zone, transfer } => {
                self.zone_mut(zone)?;
                if self.transfer.get(zone) != Some(transfer) {
                    self.transfer.insert(zone.clone(), transfer.clone());
                    t.events.push(Event::ZoneTransferChanged { zone: zone.clone() });
                }
                Ok(())
            }
            other => Err(other.not_in_family(Family::Zone)),
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
