//! Apply for the RFC 2136 path: TSIG keys, UPDATE (prerequisites, policy, §3.4 update
//! semantics), acme-dns accounts and TXT values, records with a lifetime.
//!
//! An UPDATE is decided entirely here, against the state at its log position, so every
//! node reaches the same rcode. It is all or nothing: the final contents of every touched
//! name are computed on a copy of just those names (with the same checks `set_rrset`
//! makes), and only then written through `set_rrset`, which keeps the IXFR journal and the
//! serial bump right. Deletions are written first so no intermediate state breaks the
//! CNAME rule.

use std::collections::BTreeMap;

use super::command::{ApplyError, Command, Event, Family};
use super::machine::{check_record, State, Tracker};
use super::rfc2136::{rcode, Prereq, UpdateHistoryEntry, UpdateOp};
use crate::model::{Fqdn, Node, RData, RType, RecordSet, Zone};

/// The request fields of an UPDATE, as carried by the command.
pub(super) struct UpdateRequest<'a> {
    pub zone: &'a Fqdn,
    pub prereqs: &'a [Prereq],
    pub updates: &'a [UpdateOp],
    pub key: Option<&'a Fqdn>,
}

impl State {
    pub(super) fn apply_rfc2136(&mut self, command: &Command, t: &mut Tracker) -> Result<(), ApplyError> {
        match command {
            Command::SetTsigKey { key } => {
                if crate::model::tsig::Algorithm::parse(&key.algorithm).is_none() {
                    return Err(ApplyError::InvalidData(format!("unsupported TSIG algorithm {:?}", key.algorithm)));
                }
                if key.secret.len() < 16 {
                    return Err(ApplyError::InvalidData("a TSIG secret has at least 16 octets".into()));
                }
                self.rfc2136.keys.insert(key.name.clone(), key.clone());
                self.rfc2136.keys_version += 1;
                t.events.push(Event::TsigKeySet { name: key.name.clone() });
                Ok(())
            }
            Command::DeleteTsigKey { name } => {
                self.rfc2136.keys.remove(name).ok_or_else(|| ApplyError::NoSuchTsigKey(name.clone()))?;
                self.rfc2136.keys_version += 1;
                t.events.push(Event::TsigKeyDeleted { name: name.clone() });
                Ok(())
            }
            Command::DnsUpdate { zone, prereqs, updates, key, source, at } => {
                let req = UpdateRequest { zone, prereqs, updates, key: key.as_ref() };
                let serial_before = self.zones.get(zone).map(|z| z.serial);
                let rc = self.dns_update(&req, t)?;
                let changed = rc == rcode::NOERROR && t.touched.contains(zone) && serial_before.is_some();
                self.rfc2136.record(UpdateHistoryEntry {
                    index: t.index,
                    at: *at,
                    zone: zone.clone(),
                    key: key.clone(),
                    source: source.clone(),
                    rcode: rc,
                    changes: updates.iter().map(UpdateOp::describe).collect(),
                    changed,
                });
                t.events.push(Event::DnsUpdated { zone: zone.clone(), key: key.clone(), rcode: rc });
                Ok(())
            }
            other => Err(other.not_in_family(Family::Rfc2136)),
        }
    }

    /// Decides and (on NOERROR) applies one UPDATE; returns its rcode.
    pub(super) fn dns_update(&mut self, req: &UpdateRequest<'_>, t: &mut Tracker) -> Result<u16, ApplyError> {
        let Some(zone) = self.zones.get(req.zone) else { return Ok(rcode::NOTAUTH) };
        let Some(key) = req.key.and_then(|k| self.rfc2136.keys.get(k)) else { return Ok(rcode::REFUSED) };
        if !req.updates.iter().all(|op| key.allows(op)) {
            return Ok(rcode::REFUSED);
        }
        let prereq_names = req.prereqs.iter().map(Prereq::name);
        if !prereq_names.chain(req.updates.iter().map(UpdateOp::name)).all(|n| n.is_in(req.zone)) {
            return Ok(rcode::NOTZONE);
        }
        if let Some(rc) = check_prereqs(zone, req.prereqs) {
            return Ok(rc);
        }
        let touched = simulate(zone, req.updates);
        let writes = match plan_writes(zone, &touched) {
            Ok(w) => w,
            // Data the zone cannot hold (a TXT string too long...): refuse it all.
            Err(_) => return Ok(rcode::REFUSED),
        };
        for (name, rtype, ttl, data) in writes {
            self.set_rrset(req.zone, &name, rtype, ttl, data, t)?;
        }
        Ok(rcode::NOERROR)
    }
}

const TYPE_SOA: u16 = 6;

/// Whether (name, type) exists in the zone, the SOA at the apex included.
fn rrset_exists(zone: &Zone, name: &Fqdn, rtype: u16) -> bool {
    if rtype == TYPE_SOA {
        return name == &zone.origin;
    }
    RType::from_code(rtype).is_some_and(|t| zone.rrset(name, t).is_some())
}

/// RFC 2136 §3.2: the first failing prerequisite's rcode, or `None` when all hold.
pub(super) fn check_prereqs(zone: &Zone, prereqs: &[Prereq]) -> Option<u16> {
    let mut expected: BTreeMap<(&Fqdn, RType), Vec<RData>> = BTreeMap::new();
    for p in prereqs {
        let in_use = |n: &Fqdn| n == &zone.origin || zone.nodes.contains_key(n);
        match p {
            Prereq::NameInUse(n) if !in_use(n) => return Some(rcode::NXDOMAIN),
            Prereq::NameNotInUse(n) if in_use(n) => return Some(rcode::YXDOMAIN),
            Prereq::RrsetExists(n, t) if !rrset_exists(zone, n, *t) => return Some(rcode::NXRRSET),
            Prereq::RrsetNotExists(n, t) if rrset_exists(zone, n, *t) => return Some(rcode::YXRRSET),
            Prereq::RrsetEquals(n, t, data) => expected.entry((n, *t)).or_default().extend(data.iter().cloned()),
            _ => {}
        }
    }
    for ((name, rtype), mut data) in expected {
        data.sort();
        data.dedup();
        let actual = zone.rrset(name, rtype).map(|s| s.data.as_slice()).unwrap_or_default();
        if actual != data.as_slice() {
            return Some(rcode::NXRRSET);
        }
    }
    None
}

/// RFC 2136 §3.4.2 on copies of the touched names: the final node per touched name.
pub(super) fn simulate(zone: &Zone, updates: &[UpdateOp]) -> BTreeMap<Fqdn, Node> {
    let mut nodes: BTreeMap<Fqdn, Node> = BTreeMap::new();
    for op in updates {
        let name = op.name();
        let apex = name == &zone.origin;
        let node = nodes.entry(name.clone()).or_insert_with(|| zone.nodes.get(name).cloned().unwrap_or_default());
        match op {
            UpdateOp::Add { ttl, data, .. } => {
                let t = data.rtype();
                let has_cname = node.contains_key(&RType::Cname);
                let has_other = apex || node.keys().any(|k| *k != RType::Cname);
                // A CNAME and other data never share a name: the conflicting add is ignored.
                if (t == RType::Cname && has_other) || (t != RType::Cname && has_cname) {
                    continue;
                }
                let set = node.get_or_insert_with(t, || RecordSet::new(*ttl, Vec::new()));
                if t == RType::Cname {
                    set.data.clear();
                }
                set.ttl = *ttl;
                set.add(data.clone());
            }
            UpdateOp::DeleteRrset { rtype, .. } => {
                if !(apex && *rtype == RType::Ns) {
                    node.remove(rtype);
                }
            }
            UpdateOp::DeleteName { .. } => {
                if apex {
                    node.retain(|t, _| *t == RType::Ns);
                } else {
                    node.clear();
                }
            }
            UpdateOp::DeleteRr { data, .. } => {
                let t = data.rtype();
                if let Some(set) = node.get_mut(&t) {
                    // The last apex NS stays (§3.4.2.4).
                    if apex && t == RType::Ns && set.data.len() == 1 {
                        continue;
                    }
                    set.data.retain(|d| d != data);
                    if set.data.is_empty() {
                        node.remove(&t);
                    }
                }
            }
        }
    }
    nodes
}

type Write = (Fqdn, RType, u32, Vec<RData>);

/// The `set_rrset` calls that turn the zone's touched names into `touched`, deletions
/// first, checked on a scratch zone holding only those names so they cannot fail midway.
fn plan_writes(zone: &Zone, touched: &BTreeMap<Fqdn, Node>) -> Result<Vec<Write>, ApplyError> {
    let (mut deletes, mut sets) = (Vec::new(), Vec::new());
    for (name, new) in touched {
        let old = zone.nodes.get(name);
        let mut types: Vec<RType> = new.keys().copied().collect();
        types.extend(old.into_iter().flat_map(|o| o.keys().copied()));
        types.sort();
        types.dedup();
        for t in types {
            let (o, n) = (old.and_then(|o| o.get(&t)), new.get(&t));
            match n {
                None if o.is_some() => deletes.push((name.clone(), t, 0, Vec::new())),
                Some(n) if Some(n) != o => sets.push((name.clone(), t, n.ttl, n.data.to_vec())),
                _ => {}
            }
        }
    }
    let mut scratch = Zone::new(zone.origin.clone(), zone.soa.clone(), zone.serial);
    for name in touched.keys() {
        if let Some(n) = zone.nodes.get(name) {
            scratch.nodes.insert(name.clone(), n.clone());
        }
    }
    deletes.append(&mut sets);
    for (name, t, ttl, data) in &deletes {
        check_record(&scratch, name, *t, data)?;
        let node = scratch.nodes.entry(name.clone()).or_default();
        if data.is_empty() {
            node.remove(t);
        } else {
            node.insert(*t, RecordSet::new(*ttl, data.clone()));
        }
    }
    Ok(deletes)
}

#[cfg(test)]
#[path = "apply_rfc2136_tests.rs"]
mod tests;
