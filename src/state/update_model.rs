//! A reference model of RFC 2136 UPDATE for tests: a flat (name, type) -> (ttl, set) map
//! written straight from §3.2 (prerequisites) and §3.4.2 (updates), with this server's
//! rules for CNAME conflicts and the apex NS. The property test of `State::apply`
//! (`apply_rfc2136_tests.rs`) and the cluster test of real UPDATE messages
//! (tests/e2e/update_model.rs) both check the server against it, with messages drawn by
//! the same generators ([`prereq`], [`op`]) over a few names, types and values.
//!
//! Not part of the product: public only so the e2e test binary can use it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::rfc2136::{rcode, Prereq, UpdateOp};
use crate::model::{Fqdn, RData, RType, Zone};

/// (owner, type) -> (TTL, RDATA set). The SOA is not in it (UPDATE never changes it).
pub type Model = BTreeMap<(Fqdn, RType), (u32, BTreeSet<RData>)>;

/// One of three names: the apex, `a.<apex>`, `b.<apex>`.
pub fn name(apex: &Fqdn, i: u8) -> Fqdn {
    match i % 3 {
        0 => apex.clone(),
        1 => apex.child("a").expect("a is a label"),
        _ => apex.child("b").expect("b is a label"),
    }
}

/// One of two values of A, TXT, CNAME or NS (`t % 4`).
pub fn data(t: u8, v: u8) -> RData {
    let v = v % 2;
    let target = |s: &str| Fqdn::parse(s).expect("valid test name");
    match t % 4 {
        0 => RData::A(Ipv4Addr::new(192, 0, 2, v)),
        1 => RData::Txt(vec![vec![b'a' + v]]),
        2 => RData::Cname(target(if v == 0 { "t0.example" } else { "t1.example" })),
        _ => RData::Ns(target(if v == 0 { "ns0.example" } else { "ns1.example" })),
    }
}

/// A prerequisite of kind `k % 5` (all five of §2.4); `t == 4` asks about the SOA.
pub fn prereq(apex: &Fqdn, k: u8, n: u8, t: u8, v: u8) -> Prereq {
    let code = if t % 5 == 4 { 6 } else { data(t, 0).rtype().code() };
    match k % 5 {
        0 => Prereq::NameInUse(name(apex, n)),
        1 => Prereq::NameNotInUse(name(apex, n)),
        2 => Prereq::RrsetExists(name(apex, n), code),
        3 => Prereq::RrsetNotExists(name(apex, n), code),
        _ => Prereq::RrsetEquals(name(apex, n), data(t, v).rtype(), vec![data(t, v)]),
    }
}

/// An update of kind `k % 6`: add (twice as likely), delete an RRset, a name, an RR.
pub fn op(apex: &Fqdn, k: u8, n: u8, t: u8, v: u8, ttl: u32) -> UpdateOp {
    match k % 6 {
        0 | 1 => UpdateOp::Add { name: name(apex, n), ttl, data: data(t, v) },
        2 => UpdateOp::DeleteRrset { name: name(apex, n), rtype: data(t, v).rtype() },
        3 => UpdateOp::DeleteName { name: name(apex, n) },
        _ => UpdateOp::DeleteRr { name: name(apex, n), data: data(t, v) },
    }
}

/// The zone's records as a model (SOA left out).
pub fn of_zone(z: &Zone) -> Model {
    z.nodes
        .iter()
        .flat_map(|(n, node)| {
            node.iter().map(move |(t, set)| ((n.clone(), *t), (set.ttl, set.data.iter().cloned().collect())))
        })
        .collect()
}

/// Records as a model (SOA left out), e.g. from a zone transfer.
pub fn of_records(records: impl IntoIterator<Item = (Fqdn, u32, RData)>) -> Model {
    let mut m = Model::new();
    for (name, ttl, data) in records {
        let t = data.rtype();
        if t != RType::Soa {
            let e = m.entry((name, t)).or_insert((ttl, BTreeSet::new()));
            e.0 = ttl;
            e.1.insert(data);
        }
    }
    m
}

/// The rcode and the zone after one UPDATE by a key allowed to change anything in `apex`.
pub fn apply(apex: &Fqdn, m: &Model, prereqs: &[Prereq], ops: &[UpdateOp]) -> (u16, Model) {
    let z = apex;
    let used = |n: &Fqdn| n == z || m.keys().any(|(k, _)| k == n);
    let exists = |n: &Fqdn, t: u16| (t == 6 && n == z) || m.keys().any(|(k, kt)| k == n && kt.code() == t);
    let mut want: BTreeMap<(Fqdn, RType), BTreeSet<RData>> = BTreeMap::new();
    for p in prereqs {
        let fail = match p {
            Prereq::NameInUse(n) => (!used(n)).then_some(rcode::NXDOMAIN),
            Prereq::NameNotInUse(n) => used(n).then_some(rcode::YXDOMAIN),
            Prereq::RrsetExists(n, t) => (!exists(n, *t)).then_some(rcode::NXRRSET),
            Prereq::RrsetNotExists(n, t) => exists(n, *t).then_some(rcode::YXRRSET),
            Prereq::RrsetEquals(n, t, d) => {
                want.entry((n.clone(), *t)).or_default().extend(d.iter().cloned());
                None
            }
        };
        if let Some(rc) = fail {
            return (rc, m.clone());
        }
    }
    for (k, v) in &want {
        if m.get(k).map(|s| &s.1) != Some(v) {
            return (rcode::NXRRSET, m.clone());
        }
    }
    let mut m = m.clone();
    for op in ops {
        apply_op(z, &mut m, op);
    }
    (rcode::NOERROR, m)
}

fn apply_op(z: &Fqdn, m: &mut Model, op: &UpdateOp) {
    match op {
        UpdateOp::Add { name, ttl, data } => {
            let t = data.rtype();
            let others = name == z || m.keys().any(|(k, kt)| k == name && *kt != RType::Cname);
            let cname = m.contains_key(&(name.clone(), RType::Cname));
            if (t == RType::Cname && others) || (t != RType::Cname && cname) {
                return;
            }
            let e = m.entry((name.clone(), t)).or_insert((*ttl, BTreeSet::new()));
            if t == RType::Cname {
                e.1.clear();
            }
            e.0 = *ttl;
            e.1.insert(data.clone());
        }
        UpdateOp::DeleteRrset { name, rtype } => {
            if !(name == z && *rtype == RType::Ns) {
                m.remove(&(name.clone(), *rtype));
            }
        }
        UpdateOp::DeleteName { name } => m.retain(|(k, t), _| k != name || (k == z && *t == RType::Ns)),
        UpdateOp::DeleteRr { name, data } => {
            let key = (name.clone(), data.rtype());
            let last_apex_ns = name == z && data.rtype() == RType::Ns && m.get(&key).is_some_and(|s| s.1.len() == 1);
            if let Some(s) = m.get_mut(&key).filter(|_| !last_apex_ns) {
                s.1.remove(data);
                if s.1.is_empty() {
                    m.remove(&key);
                }
            }
        }
    }
}
