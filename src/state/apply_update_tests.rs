//! UPDATE apply against a reference model: random messages (prerequisites and updates
//! over a few names, types and values) give the same zone and the same rcodes as a flat
//! (name, type) -> (ttl, set) model written straight from RFC 2136 §3.2 and §3.4.2.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::super::rfc2136::{rcode, NameMatch, PolicyRule, Prereq, TsigKeyEntry, UpdateOp};
use super::super::{Command, Event, State};
use crate::model::{Fqdn, RData, RType, SoaParams};

fn apex() -> Fqdn {
    Fqdn::parse("z.test").unwrap()
}
fn name(i: u8) -> Fqdn {
    match i % 3 {
        0 => apex(),
        1 => Fqdn::parse("a.z.test").unwrap(),
        _ => Fqdn::parse("b.z.test").unwrap(),
    }
}
fn data(t: u8, v: u8) -> RData {
    let v = v % 2;
    match t % 4 {
        0 => RData::A(Ipv4Addr::new(192, 0, 2, v)),
        1 => RData::Txt(vec![vec![b'a' + v]]),
        2 => RData::Cname(Fqdn::parse(if v == 0 { "t0.example" } else { "t1.example" }).unwrap()),
        _ => RData::Ns(Fqdn::parse(if v == 0 { "ns0.example" } else { "ns1.example" }).unwrap()),
    }
}

type Model = BTreeMap<(Fqdn, RType), (u32, BTreeSet<RData>)>;

fn model_apply(m: &Model, prereqs: &[Prereq], ops: &[UpdateOp]) -> (u16, Model) {
    let z = apex();
    let used = |n: &Fqdn| n == &z || m.keys().any(|(k, _)| k == n);
    let exists = |n: &Fqdn, t: u16| (t == 6 && n == &z) || m.keys().any(|(k, kt)| k == n && kt.code() == t);
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
        match op {
            UpdateOp::Add { name, ttl, data } => {
                let t = data.rtype();
                let others = name == &z || m.keys().any(|(k, kt)| k == name && *kt != RType::Cname);
                let cname = m.contains_key(&(name.clone(), RType::Cname));
                if (t == RType::Cname && others) || (t != RType::Cname && cname) {
                    continue;
                }
                let e = m.entry((name.clone(), t)).or_insert((*ttl, BTreeSet::new()));
                if t == RType::Cname {
                    e.1.clear();
                }
                e.0 = *ttl;
                e.1.insert(data.clone());
            }
            UpdateOp::DeleteRrset { name, rtype } => {
                if !(name == &z && *rtype == RType::Ns) {
                    m.remove(&(name.clone(), *rtype));
                }
            }
            UpdateOp::DeleteName { name } => m.retain(|(k, t), _| k != name || (k == &z && *t == RType::Ns)),
            UpdateOp::DeleteRr { name, data } => {
                let key = (name.clone(), data.rtype());
                let last_apex_ns = name == &z && data.rtype() == RType::Ns && m.get(&key).is_some_and(|s| s.1.len() == 1);
                if let Some(s) = m.get_mut(&key).filter(|_| !last_apex_ns) {
                    s.1.remove(data);
                    if s.1.is_empty() {
                        m.remove(&key);
                    }
                }
            }
        }
    }
    (rcode::NOERROR, m)
}

fn of_state(s: &State) -> Model {
    let z = &s.zones[&apex()];
    z.nodes
        .iter()
        .flat_map(|(n, node)| node.iter().map(move |(t, set)| ((n.clone(), *t), (set.ttl, set.data.iter().cloned().collect()))))
        .collect()
}

fn prereq() -> impl Strategy<Value = Prereq> {
    (0u8..5, any::<u8>(), 0u8..5, any::<u8>()).prop_map(|(k, n, t, v)| {
        let code = if t == 4 { 6 } else { data(t, 0).rtype().code() };
        match k {
            0 => Prereq::NameInUse(name(n)),
            1 => Prereq::NameNotInUse(name(n)),
            2 => Prereq::RrsetExists(name(n), code),
            3 => Prereq::RrsetNotExists(name(n), code),
            _ => Prereq::RrsetEquals(name(n), data(t, v).rtype(), vec![data(t, v)]),
        }
    })
}

fn op() -> impl Strategy<Value = UpdateOp> {
    (0u8..6, any::<u8>(), any::<u8>(), any::<u8>(), 1u32..3).prop_map(|(k, n, t, v, ttl)| match k {
        0 | 1 => UpdateOp::Add { name: name(n), ttl: ttl * 60, data: data(t, v) },
        2 => UpdateOp::DeleteRrset { name: name(n), rtype: data(t, v).rtype() },
        3 => UpdateOp::DeleteName { name: name(n) },
        _ => UpdateOp::DeleteRr { name: name(n), data: data(t, v) },
    })
}

fn setup() -> State {
    let mut s = State::default();
    let origin = apex();
    let ns = vec![Fqdn::parse("ns0.example").unwrap()];
    s.apply(&Command::CreateZone { origin: origin.clone(), soa: SoaParams::defaults_for(&origin), ns, ns_ttl: 60, serial: None })
        .unwrap();
    let policy = vec![PolicyRule { kind: NameMatch::Subdomain, name: "z.test".into(), types: vec![] }];
    let key = TsigKeyEntry { name: Fqdn::parse("k").unwrap(), algorithm: "hmac-sha256".into(), secret: vec![7; 32], policy, comment: String::new(), created: 0 };
    s.apply(&Command::SetTsigKey { key }).unwrap();
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_updates_match_the_reference_model(msgs in prop::collection::vec((prop::collection::vec(prereq(), 0..3), prop::collection::vec(op(), 1..5)), 1..12)) {
        let mut s = setup();
        let mut model = of_state(&s);
        for (i, (prereqs, updates)) in msgs.into_iter().enumerate() {
            let before = s.zones[&apex()].serial;
            let cmd = Command::DnsUpdate { zone: apex(), prereqs: prereqs.clone(), updates: updates.clone(), key: Some(Fqdn::parse("k").unwrap()), source: "t".into(), at: 0 };
            let applied = s.apply_at(i as u64 + 10, &cmd).unwrap();
            let rc = applied.events.iter().find_map(|e| match e { Event::DnsUpdated { rcode, .. } => Some(*rcode), _ => None }).unwrap();
            let (want_rc, next) = model_apply(&model, &prereqs, &updates);
            prop_assert_eq!(rc, want_rc, "{:?} {:?}", prereqs, updates);
            prop_assert_eq!(&of_state(&s), &next);
            let after = s.zones[&apex()].serial;
            prop_assert_eq!(after != before, next != model, "serial bumps exactly when the zone changed");
            model = next;
        }
        // Replaying the IXFR journal on the first version gives the same zone.
        prop_assert!(s.journals.get(&apex()).is_none_or(|j| j.entries.iter().all(|e| e.from != e.to)));
    }
}

#[test]
fn a_key_outside_its_policy_is_refused_and_changes_nothing() {
    let mut s = setup();
    let narrow = vec![PolicyRule { kind: NameMatch::Pattern, name: "_acme-challenge.*".into(), types: vec![RType::Txt] }];
    let key = TsigKeyEntry { name: Fqdn::parse("acme").unwrap(), algorithm: "hmac-md5".into(), secret: vec![1; 16], policy: narrow, comment: String::new(), created: 0 };
    s.apply(&Command::SetTsigKey { key }).unwrap();
    let txt = |n: &str| UpdateOp::Add { name: Fqdn::parse(n).unwrap(), ttl: 60, data: RData::Txt(vec![b"v".to_vec()]) };
    let run = |s: &mut State, op: UpdateOp| {
        let cmd = Command::DnsUpdate { zone: apex(), prereqs: vec![], updates: vec![op], key: Some(Fqdn::parse("acme").unwrap()), source: String::new(), at: 0 };
        let a = s.apply(&cmd).unwrap();
        a.events.iter().find_map(|e| match e { Event::DnsUpdated { rcode, .. } => Some(*rcode), _ => None }).unwrap()
    };
    assert_eq!(run(&mut s, txt("www.z.test")), rcode::REFUSED);
    let a = UpdateOp::Add { name: Fqdn::parse("_acme-challenge.www.z.test").unwrap(), ttl: 60, data: RData::A(Ipv4Addr::LOCALHOST) };
    assert_eq!(run(&mut s, a), rcode::REFUSED, "TXT only");
    assert_eq!(run(&mut s, txt("_acme-challenge.www.z.test")), rcode::NOERROR);
    assert_eq!(s.rfc2136.history.len(), 3);
    assert!(!format!("{:?}", s.rfc2136.keys).contains("[1, 1"), "Debug hides the secret");
}
