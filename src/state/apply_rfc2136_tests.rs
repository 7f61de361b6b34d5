//! UPDATE apply against the reference model (`state::update_model`): random messages
//! (prerequisites and updates over a few names, types and values) give the same zone and
//! the same rcodes as a flat (name, type) -> (ttl, set) model written straight from
//! RFC 2136 §3.2 and §3.4.2. tests/e2e/update_model.rs runs the same model through a cluster.

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::super::rfc2136::{rcode, NameMatch, PolicyRule, Prereq, TsigKeyEntry, UpdateOp};
use super::super::update_model::{self as model, Model};
use super::super::{Command, Event, State};
use crate::model::{Fqdn, RData, RType, SoaParams};

fn apex() -> Fqdn {
    Fqdn::parse("z.test").unwrap()
}

fn of_state(s: &State) -> Model {
    model::of_zone(&s.zones[&apex()])
}

fn prereq() -> impl Strategy<Value = Prereq> {
    (0u8..5, any::<u8>(), 0u8..5, any::<u8>()).prop_map(|(k, n, t, v)| model::prereq(&apex(), k, n, t, v))
}

fn op() -> impl Strategy<Value = UpdateOp> {
    (0u8..6, any::<u8>(), any::<u8>(), any::<u8>(), 1u32..3)
        .prop_map(|(k, n, t, v, ttl)| model::op(&apex(), k, n, t, v, ttl * 60))
}

fn setup() -> State {
    let mut s = State::default();
    let origin = apex();
    let ns = vec![Fqdn::parse("ns0.example").unwrap()];
    s.apply(&Command::CreateZone {
        origin: origin.clone(),
        soa: SoaParams::defaults_for(&origin),
        ns,
        ns_ttl: 60,
        serial: None,
    })
    .unwrap();
    let policy = vec![PolicyRule { kind: NameMatch::Subdomain, name: "z.test".into(), types: vec![] }];
    let key = TsigKeyEntry {
        name: Fqdn::parse("k").unwrap(),
        algorithm: "hmac-sha256".into(),
        secret: vec![7; 32],
        policy,
        comment: String::new(),
        created: 0,
    };
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
            let (want_rc, next) = model::apply(&apex(), &model, &prereqs, &updates);
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
    let narrow =
        vec![PolicyRule { kind: NameMatch::Pattern, name: "_acme-challenge.*".into(), types: vec![RType::Txt] }];
    let key = TsigKeyEntry {
        name: Fqdn::parse("acme").unwrap(),
        algorithm: "hmac-md5".into(),
        secret: vec![1; 16],
        policy: narrow,
        comment: String::new(),
        created: 0,
    };
    s.apply(&Command::SetTsigKey { key }).unwrap();
    let txt = |n: &str| UpdateOp::Add { name: Fqdn::parse(n).unwrap(), ttl: 60, data: RData::Txt(vec![b"v".to_vec()]) };
    let run = |s: &mut State, op: UpdateOp| {
        let cmd = Command::DnsUpdate {
            zone: apex(),
            prereqs: vec![],
            updates: vec![op],
            key: Some(Fqdn::parse("acme").unwrap()),
            source: String::new(),
            at: 0,
        };
        let a = s.apply(&cmd).unwrap();
        a.events
            .iter()
            .find_map(|e| match e {
                Event::DnsUpdated { rcode, .. } => Some(*rcode),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(run(&mut s, txt("www.z.test")), rcode::REFUSED);
    let a = UpdateOp::Add {
        name: Fqdn::parse("_acme-challenge.www.z.test").unwrap(),
        ttl: 60,
        data: RData::A(Ipv4Addr::LOCALHOST),
    };
    assert_eq!(run(&mut s, a), rcode::REFUSED, "TXT only");
    assert_eq!(run(&mut s, txt("_acme-challenge.www.z.test")), rcode::NOERROR);
    assert_eq!(s.rfc2136.history.len(), 3);
    assert!(!format!("{:?}", s.rfc2136.keys).contains("[1, 1"), "Debug hides the secret");
}
