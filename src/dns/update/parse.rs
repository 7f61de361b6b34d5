//! Reading an RFC 2136 UPDATE message: zone section, prerequisites (§2.4, checked as in
//! §3.2) and update RRs (prescan of §3.4.1). The sections are read with hickory-proto's
//! decoder (UPDATE reuses the query sections with other meanings); the checks that need
//! the zone's contents happen later, in apply.

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RData as HRData, Record, RecordType};

use crate::model::presentation::from_hickory;
use crate::model::{Fqdn, RData, RType};
use crate::state::rfc2136::{rcode, Prereq, UpdateOp};

/// A well-formed UPDATE, ready to be proposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedUpdate {
    pub zone: Fqdn,
    pub prereqs: Vec<Prereq>,
    pub updates: Vec<UpdateOp>,
}

/// Parses an UPDATE. `Err` is the rcode to answer with (FORMERR, NOTZONE, REFUSED for
/// record types this server does not store).
pub fn parse(msg: &[u8]) -> Result<ParsedUpdate, u16> {
    let m = Message::from_vec(msg).map_err(|_| rcode::FORMERR)?;
    let [zq] = m.queries.as_slice() else { return Err(rcode::FORMERR) };
    if zq.query_type() != RecordType::SOA {
        return Err(rcode::FORMERR);
    }
    if zq.query_class() != DNSClass::IN {
        return Err(rcode::NOTAUTH);
    }
    let zone = name(zq.name())?;
    let mut prereqs = Vec::with_capacity(m.answers.len());
    for r in &m.answers {
        let p = prereq(r)?;
        prereqs.push(p);
    }
    let mut updates = Vec::with_capacity(m.authorities.len());
    for r in &m.authorities {
        if let Some(op) = update(r)? {
            updates.push(op);
        }
    }
    // §3.2.1 / §3.4.1.3: every name is in the zone.
    let names = prereqs.iter().map(Prereq::name).chain(updates.iter().map(UpdateOp::name));
    let names_ok = names.clone().all(|n| n.is_in(&zone));
    let raw_ok = m.answers.iter().chain(&m.authorities).all(|r| name(&r.name).is_ok_and(|n| n.is_in(&zone)));
    if !names_ok || !raw_ok {
        return Err(rcode::NOTZONE);
    }
    Ok(ParsedUpdate { zone, prereqs, updates })
}

fn name(n: &hickory_proto::rr::Name) -> Result<Fqdn, u16> {
    Fqdn::from_labels(n.iter()).map_err(|_| rcode::FORMERR)
}

fn is_empty(r: &Record) -> bool {
    matches!(r.data, HRData::Update0(_))
}

/// Record data of a type we store, validated; REFUSED for other types.
fn data(r: &Record) -> Result<Option<RData>, u16> {
    if r.record_type() == RecordType::SOA {
        return Ok(None);
    }
    match from_hickory(&r.data) {
        Ok(Some(d)) => {
            d.validate().map_err(|_| rcode::FORMERR)?;
            Ok(Some(d))
        }
        Ok(None) => Err(rcode::REFUSED),
        Err(_) => Err(rcode::FORMERR),
    }
}

fn prereq(r: &Record) -> Result<Prereq, u16> {
    if r.ttl != 0 {
        return Err(rcode::FORMERR);
    }
    let n = name(&r.name)?;
    let t = r.record_type();
    match r.dns_class {
        DNSClass::ANY | DNSClass::NONE if !is_empty(r) => Err(rcode::FORMERR),
        DNSClass::ANY if t == RecordType::ANY => Ok(Prereq::NameInUse(n)),
        DNSClass::ANY => Ok(Prereq::RrsetExists(n, u16::from(t))),
        DNSClass::NONE if t == RecordType::ANY => Ok(Prereq::NameNotInUse(n)),
        DNSClass::NONE => Ok(Prereq::RrsetNotExists(n, u16::from(t))),
        DNSClass::IN => {
            let rtype = RType::from_code(u16::from(t)).ok_or(rcode::REFUSED)?;
            if rtype == RType::Soa {
                // An SOA "RRset equals" cannot be expressed in our data; nobody sends it.
                return Err(rcode::REFUSED);
            }
            let d = data(r)?.ok_or(rcode::FORMERR)?;
            Ok(Prereq::RrsetEquals(n, rtype, vec![d]))
        }
        _ => Err(rcode::FORMERR),
    }
}

/// One update RR; `None` for SOA updates (ignored: the serial is managed by the cluster).
fn update(r: &Record) -> Result<Option<UpdateOp>, u16> {
    let n = name(&r.name)?;
    let t = r.record_type();
    if matches!(t, RecordType::AXFR | RecordType::IXFR | RecordType::OPT) || u16::from(t) == 253 || u16::from(t) == 254
    {
        return Err(rcode::FORMERR);
    }
    match r.dns_class {
        DNSClass::IN => {
            if t == RecordType::ANY || is_empty(r) {
                return Err(rcode::FORMERR);
            }
            Ok(data(r)?.map(|data| UpdateOp::Add { name: n, ttl: r.ttl, data }))
        }
        DNSClass::ANY => {
            if r.ttl != 0 || !is_empty(r) {
                return Err(rcode::FORMERR);
            }
            if t == RecordType::ANY {
                return Ok(Some(UpdateOp::DeleteName { name: n }));
            }
            match RType::from_code(u16::from(t)) {
                Some(RType::Soa) => Ok(None),
                Some(rtype) => Ok(Some(UpdateOp::DeleteRrset { name: n, rtype })),
                // Deleting a type we never store deletes nothing.
                None => Ok(None),
            }
        }
        DNSClass::NONE => {
            if r.ttl != 0 || t == RecordType::ANY || is_empty(r) {
                return Err(rcode::FORMERR);
            }
            match RType::from_code(u16::from(t)) {
                None => Ok(None),
                Some(_) => Ok(data(r)?.map(|data| UpdateOp::DeleteRr { name: n, data })),
            }
        }
        _ => Err(rcode::FORMERR),
    }
}
