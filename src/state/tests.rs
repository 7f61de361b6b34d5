use proptest::prelude::*;

use super::*;
use crate::model::{Fqdn, RData, RType, Serial};
use crate::state::{ApplyError, Command, RequestId};

fn n(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap()
}

use super::testing::create_zone as zone_cmd;

fn set_a(zone: &str, name: &str, ips: &[&str]) -> Command {
    Command::SetRecordSet {
        zone: n(zone),
        name: n(name),
        rtype: RType::A,
        ttl: 60,
        data: ips.iter().map(|ip| RData::A(ip.parse().unwrap())).collect(),
    }
}

fn serial(state: &State, zone: &str) -> Serial {
    state.zones[&n(zone)].serial
}

#[test]
fn a_change_bumps_the_serial_exactly_once() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    assert_eq!(serial(&s, "dyn.test"), Serial(1));
    let applied = s.apply(&set_a("dyn.test", "h.dyn.test", &["192.0.2.1", "192.0.2.2"])).unwrap();
    assert_eq!(applied.serials, vec![(n("dyn.test"), Serial(2))]);
    assert_eq!(serial(&s, "dyn.test"), Serial(2));
}

#[test]
fn a_no_op_keeps_the_serial_and_emits_nothing() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    s.apply(&set_a("dyn.test", "h.dyn.test", &["192.0.2.1"])).unwrap();
    let again = s.apply(&set_a("dyn.test", "h.dyn.test", &["192.0.2.1"])).unwrap();
    assert!(!again.changed());
    assert_eq!(serial(&s, "dyn.test"), Serial(2));
    let del_missing =
        s.apply(&Command::DeleteRecordSet { zone: n("dyn.test"), name: n("x.dyn.test"), rtype: RType::Txt }).unwrap();
    assert!(!del_missing.changed());
}

#[test]
fn refused_commands_change_nothing() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    let before = s.clone();
    assert!(matches!(s.apply(&set_a("dyn.test", "h.other.test", &["192.0.2.1"])), Err(ApplyError::OutOfZone { .. })));
    assert!(matches!(s.apply(&set_a("nope.test", "h.nope.test", &["192.0.2.1"])), Err(ApplyError::NoSuchZone(_))));
    assert!(matches!(s.apply(&zone_cmd("dyn.test")), Err(ApplyError::ZoneExists(_))));
    assert!(matches!(s.apply(&zone_cmd("sub.dyn.test")), Err(ApplyError::ZoneOverlap { .. })));
    assert!(matches!(
        s.apply(&Command::DeleteRecordSet { zone: n("dyn.test"), name: n("dyn.test"), rtype: RType::Ns }),
        Err(ApplyError::ApexNsRequired(_))
    ));
    assert_eq!(s, before);
}

#[test]
fn cname_must_stand_alone() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    s.apply(&set_a("dyn.test", "h.dyn.test", &["192.0.2.1"])).unwrap();
    let cname = Command::SetRecordSet {
        zone: n("dyn.test"),
        name: n("h.dyn.test"),
        rtype: RType::Cname,
        ttl: 60,
        data: vec![RData::Cname(n("x.test"))],
    };
    assert!(matches!(s.apply(&cname), Err(ApplyError::CnameConflict(_))));
}

#[test]
fn a_failing_batch_is_rolled_back_whole() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    let before = s.clone();
    let batch = Command::Batch(vec![
        set_a("dyn.test", "a.dyn.test", &["192.0.2.1"]),
        set_a("dyn.test", "b.elsewhere.test", &["192.0.2.1"]),
    ]);
    assert!(s.apply(&batch).is_err());
    assert_eq!(s, before);
    let ok = Command::Batch(vec![
        set_a("dyn.test", "a.dyn.test", &["192.0.2.1"]),
        set_a("dyn.test", "b.dyn.test", &["192.0.2.1"]),
    ]);
    let applied = s.apply(&ok).unwrap();
    assert_eq!(applied.serials, vec![(n("dyn.test"), Serial(2))], "one bump per entry");
}

#[test]
fn a_group_applies_each_command_as_its_own_entry() {
    let cmds = vec![
        set_a("dyn.test", "a.dyn.test", &["192.0.2.1"]),
        set_a("dyn.test", "b.elsewhere.test", &["192.0.2.1"]),
        set_a("dyn.test", "c.dyn.test", &["192.0.2.3"]),
    ];
    let mut grouped = State::default();
    grouped.apply(&zone_cmd("dyn.test")).unwrap();
    let mut one_by_one = grouped.clone();
    let results = grouped.apply_group(7, &cmds);
    let expected: Vec<_> = cmds.iter().map(|c| one_by_one.apply_at(7, c)).collect();
    assert_eq!(results, expected);
    assert!(results[1].is_err() && results[0].is_ok() && results[2].is_ok(), "a refusal leaves the others alone");
    assert_eq!(grouped, one_by_one);
    assert_eq!(serial(&grouped, "dyn.test"), Serial(3), "one bump per applied command");
    assert!(grouped.apply_group(8, &[Command::Group(Vec::new())])[0].is_err(), "groups do not nest");
}

#[test]
fn a_recreated_zone_continues_its_old_serial() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    for i in 0..5 {
        s.apply(&set_a("dyn.test", "h.dyn.test", &[&format!("192.0.2.{i}")])).unwrap();
    }
    let last = serial(&s, "dyn.test");
    s.apply(&Command::DeleteZone { origin: n("dyn.test") }).unwrap();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    assert!(serial(&s, "dyn.test").is_after(last));
}

/// A command, sometimes as a request with an id (from a small pool, so ids repeat) and a
/// time, so that repeats, expiry and eviction are part of the generated histories.
fn arb_command() -> impl Strategy<Value = Command> {
    (plain_command(), prop::option::of((0u128..6, 0u64..40_000, 0u64..5_000))).prop_map(|(c, id)| match id {
        Some((id, at, timeout)) => {
            Command::WithId { id: RequestId(id), at, deadline: at + timeout, command: Box::new(c) }
        }
        None => c,
    })
}

fn plain_command() -> impl Strategy<Value = Command> {
    let name = prop::sample::select(vec!["a", "b", "c", "*.w", "dyn.test"]);
    let zone = prop::sample::select(vec!["dyn.test", "other.test"]);
    let ip = any::<u8>().prop_map(|o| RData::A(std::net::Ipv4Addr::new(192, 0, 2, o)));
    prop_oneof![
        (zone.clone(), name.clone(), prop::collection::vec(ip, 0..3)).prop_map(|(z, h, data)| {
            let name = if h == "dyn.test" { n(z) } else { n(&format!("{h}.{z}")) };
            Command::SetRecordSet { zone: n(z), name, rtype: RType::A, ttl: 60, data }
        }),
        (zone.clone(), name.clone()).prop_map(|(z, h)| Command::SetRecordSet {
            zone: n(z),
            name: n(&format!("{h}.{z}")),
            rtype: RType::Cname,
            ttl: 60,
            data: vec![RData::Cname(n("target.example"))],
        }),
        zone.clone().prop_map(|z| Command::DeleteZone { origin: n(z) }),
        zone.prop_map(zone_cmd),
        registry_command(),
    ]
}

/// Registry commands over a few hosts with times that make rate limits and expiry bite.
fn registry_command() -> impl Strategy<Value = Command> {
    use crate::state::{AddrChange, Origin, UpdatePolicy};
    let host = prop::sample::select(vec!["h1.dyn.test", "h2.dyn.test", "h3.other.test", "w.dyn.test"]);
    let at = (0u64..50).prop_map(|t| t * 1000);
    let v4 = prop_oneof![
        Just(AddrChange::Keep),
        Just(AddrChange::Remove),
        (1u8..4).prop_map(|o| AddrChange::Set(std::net::Ipv4Addr::new(192, 0, 2, o))),
    ];
    let v6 = prop_oneof![
        Just(AddrChange::Keep),
        Just(AddrChange::Remove),
        Just(AddrChange::Set("2001:db8::1".parse().unwrap()))
    ];
    let update =
        (host.clone(), v4, v6, at.clone(), 0u64..3).prop_map(|(h, v4, v6, at, limit)| Command::UpdateAddresses {
            fqdn: n(h),
            v4,
            v6,
            origin: Origin { at, endpoint: "test".into(), source: "192.0.2.200".into(), agent: "proptest".into() },
            policy: UpdatePolicy { min_change_interval_ms: limit * 5000, history_limit: 3 },
        });
    prop_oneof![
        (host.clone(), any::<bool>(), prop::option::of(1u32..20), at.clone()).prop_map(|(h, wildcard, expire, at)| {
            Command::RegisterHost {
                fqdn: n(h),
                owner: crate::state::ADMIN_OWNER.into(),
                secret_hash: "$argon2id$fixed".into(),
                wildcard,
                comment: String::new(),
                ttl: None,
                expire,
                at,
            }
        }),
        update.clone(),
        prop::collection::vec(update, 1..3).prop_map(Command::Batch),
        at.prop_map(|at| Command::ExpireHosts { at, history_limit: 3 }),
        host.clone().prop_map(|h| Command::UnregisterHost { fqdn: n(h) }),
        (host, any::<bool>()).prop_map(|(h, w)| Command::UpdateHostSettings {
            fqdn: n(h),
            patch: crate::state::HostPatch { wildcard: Some(w), ..Default::default() },
        }),
    ]
}

#[test]
fn expiry_removes_only_hosts_not_refreshed_and_bumps_the_serial_once() {
    use crate::state::{AddrChange, Origin, UpdatePolicy};
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    for h in ["stale.dyn.test", "fresh.dyn.test"] {
        s.apply(&Command::RegisterHost {
            fqdn: n(h),
            owner: "admin".into(),
            secret_hash: "x".into(),
            wildcard: false,
            comment: String::new(),
            ttl: None,
            expire: Some(10),
            at: 0,
        })
        .unwrap();
    }
    let update = |h: &str, at: u64| Command::UpdateAddresses {
        fqdn: n(h),
        v4: AddrChange::Set("192.0.2.1".parse().unwrap()),
        v6: AddrChange::Keep,
        origin: Origin { at, ..Origin::default() },
        policy: UpdatePolicy { min_change_interval_ms: 0, history_limit: 10 },
    };
    s.apply(&update("stale.dyn.test", 1_000)).unwrap();
    s.apply(&update("fresh.dyn.test", 1_000)).unwrap();
    s.apply(&update("fresh.dyn.test", 8_000)).unwrap(); // nochg refreshes
    let before = serial(&s, "dyn.test");
    let applied = s.apply(&Command::ExpireHosts { at: 11_000, history_limit: 10 }).unwrap();
    assert_eq!(applied.serials, vec![(n("dyn.test"), before.next())]);
    assert!(s.registry.hosts[&n("stale.dyn.test")].ipv4.is_none());
    assert!(s.zones[&n("dyn.test")].rrset(&n("stale.dyn.test"), RType::A).is_none());
    assert!(s.registry.hosts[&n("fresh.dyn.test")].ipv4.is_some());
    let again = s.apply(&Command::ExpireHosts { at: 11_000, history_limit: 10 }).unwrap();
    assert!(!again.changed(), "nothing left to expire");
}

/// Found by the jepsen harness (docs/jepsen.md): with `min_update_interval_secs = 0`,
/// concurrent dyndns2 updates of one host were answered `abuse` when the entry applied
/// second carried the earlier wall-clock stamp (`at < last_change + 0`).
#[test]
fn a_zero_rate_limit_never_refuses_an_update_stamped_before_the_last_change() {
    use crate::state::{AddrChange, Origin, UpdatePolicy, UpdateResult};
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    s.apply(&Command::RegisterHost {
        fqdn: n("h.dyn.test"),
        owner: "admin".into(),
        secret_hash: "x".into(),
        wildcard: false,
        comment: String::new(),
        ttl: None,
        expire: None,
        at: 0,
    })
    .unwrap();
    let update = |last: u8, at: u64, interval_ms: u64| Command::UpdateAddresses {
        fqdn: n("h.dyn.test"),
        v4: AddrChange::Set(std::net::Ipv4Addr::new(192, 0, 2, last)),
        v6: AddrChange::Keep,
        origin: Origin { at, ..Origin::default() },
        policy: UpdatePolicy { min_change_interval_ms: interval_ms, history_limit: 10 },
    };
    let result = |a: &crate::state::Applied| {
        a.events.iter().find_map(|e| match e {
            Event::HostUpdated { result, .. } => Some(*result),
            _ => None,
        })
    };
    assert_eq!(result(&s.apply(&update(1, 5_000, 0)).unwrap()), Some(UpdateResult::Good));
    // Taken by a node (or a thread) whose clock read earlier, applied after.
    assert_eq!(result(&s.apply(&update(2, 4_000, 0)).unwrap()), Some(UpdateResult::Good));
    assert_eq!(s.registry.hosts[&n("h.dyn.test")].ipv4, Some(std::net::Ipv4Addr::new(192, 0, 2, 2)));
    // A real interval still refuses it.
    assert_eq!(result(&s.apply(&update(3, 4_500, 10_000)).unwrap()), Some(UpdateResult::RateLimited));
}

proptest! {
    #[test]
    fn apply_is_deterministic_and_serials_never_go_backwards(cmds in prop::collection::vec(arb_command(), 1..60)) {
        let mut a = State::default();
        let mut b = State::default();
        let mut seen: std::collections::BTreeMap<Fqdn, Serial> = Default::default();
        for cmd in &cmds {
            let ra = a.apply(cmd);
            let rb = b.apply(cmd);
            prop_assert_eq!(&ra, &rb);
            prop_assert_eq!(&a, &b);
            for (origin, zone) in &a.zones {
                if let Some(prev) = seen.get(origin) {
                    prop_assert!(zone.serial == *prev || zone.serial.is_after(*prev));
                }
                seen.insert(origin.clone(), zone.serial);
            }
        }
    }

    #[test]
    fn replaying_equals_restoring_a_snapshot(cmds in prop::collection::vec(arb_command(), 1..60), cut in 0usize..60) {
        let cut = cut.min(cmds.len());
        let mut full = State::default();
        for cmd in &cmds { let _ = full.apply(cmd); }
        let mut prefix = State::default();
        for cmd in &cmds[..cut] { let _ = prefix.apply(cmd); }
        let bytes = crate::codec::encode(&prefix).unwrap();
        let mut restored: State = crate::codec::decode(&bytes).unwrap();
        for cmd in &cmds[cut..] { let _ = restored.apply(cmd); }
        prop_assert_eq!(full, restored);
    }
}

/// A zone import builds one set per (owner, type) with the lowest TTL, the same zone in any
/// record order; a conflict anywhere refuses the whole import and changes nothing.
#[test]
fn a_replaced_zone_is_the_same_in_any_record_order_and_conflicts_change_nothing() {
    use crate::model::RecordSpec;
    use crate::model::SoaParams;
    let z = n("imp.test");
    let spec = |name: &str, ttl: u32, data: RData| RecordSpec { name: n(name), ttl, data };
    let a = |ip: &str| RData::A(ip.parse().unwrap());
    let aaaa = |ip: &str| RData::Aaaa(ip.parse().unwrap());
    let mut records = vec![
        spec("imp.test", 300, RData::Ns(n("ns1.imp.test"))),
        spec("ns1.imp.test", 300, a("192.0.2.53")),
        spec("www.imp.test", 120, a("192.0.2.2")),
        spec("b.imp.test", 60, aaaa("2001:db8::1")),
        spec("www.imp.test", 60, a("192.0.2.1")),
        spec("b.imp.test", 60, a("192.0.2.9")),
        spec("www.imp.test", 90, aaaa("2001:db8::2")),
        spec("alias.imp.test", 60, RData::Cname(n("www.imp.test"))),
    ];
    let replace = |records: Vec<RecordSpec>| Command::ReplaceZone {
        zone: z.clone(),
        soa: SoaParams::defaults_for(&z),
        serial: None,
        records,
    };
    let mut imported = State::default();
    imported.apply(&zone_cmd("imp.test")).unwrap();
    imported.apply(&replace(records.clone())).unwrap();
    let nodes = &imported.zones[&z].nodes;
    // One set per (owner, type), with the lowest TTL of its records.
    let www_a = nodes[&n("www.imp.test")].get(&RType::A).unwrap();
    assert_eq!(www_a.ttl, 60);
    assert_eq!(www_a.data.as_slice(), [a("192.0.2.1"), a("192.0.2.2")]);
    assert_eq!(nodes[&n("www.imp.test")].get(&RType::Aaaa).unwrap().ttl, 90);
    assert_eq!(nodes.len(), 5);

    // Any order of the same records gives the same zone.
    let mut shuffled = State::default();
    shuffled.apply(&zone_cmd("imp.test")).unwrap();
    records.reverse();
    records.swap(0, 3);
    shuffled.apply(&replace(records.clone())).unwrap();
    assert_eq!(shuffled.zones[&z].nodes, imported.zones[&z].nodes);

    // A CNAME next to other data, wherever it sits in the import, refuses all of it.
    for at in [0, records.len()] {
        let mut bad = records.clone();
        bad.insert(at, spec("b.imp.test", 60, RData::Cname(n("www.imp.test"))));
        let before = imported.clone();
        let err = imported.apply(&replace(bad)).unwrap_err();
        assert_eq!(err, ApplyError::CnameConflict(n("b.imp.test")));
        assert_eq!(imported, before);
    }
    let mut outside = records.clone();
    outside.push(spec("www.other.test", 60, a("192.0.2.7")));
    assert!(matches!(imported.apply(&replace(outside)).unwrap_err(), ApplyError::OutOfZone { .. }));
}

fn with_id(id: u128, at: u64, command: Command) -> Command {
    Command::WithId { id: RequestId(id), at, deadline: at + 5_000, command: Box::new(command) }
}

/// Exactly once: a request applied again (a retry after a lost answer, a copy a dying
/// leader had appended) answers its first outcome and changes nothing.
#[test]
fn a_request_applied_twice_changes_the_state_once_and_answers_the_first_outcome() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    let first = s.apply(&with_id(7, 1_000, set_a("dyn.test", "h.dyn.test", &["192.0.2.1"]))).unwrap();
    assert!(first.changed());
    let after_first = s.clone();
    // Another write in between (acknowledged to someone else).
    s.apply(&with_id(8, 1_100, set_a("dyn.test", "h.dyn.test", &["192.0.2.2"]))).unwrap();
    let between = s.clone();
    // The copy of request 7: the first outcome, no revert to .1, no serial bump.
    let again = s.apply(&with_id(7, 1_000, set_a("dyn.test", "h.dyn.test", &["192.0.2.1"]))).unwrap();
    assert_eq!(again, first);
    assert_eq!(s.zones, between.zones, "the copy does not revert the later write");
    assert_ne!(s.zones, after_first.zones);
    assert!(s.already_applied(&with_id(7, 1_000, set_a("dyn.test", "x.dyn.test", &[]))));
    // A refused request is remembered too.
    let refused = s.apply(&with_id(9, 1_200, set_a("dyn.test", "h.other.test", &["192.0.2.3"])));
    assert!(matches!(refused, Err(ApplyError::OutOfZone { .. })));
    assert_eq!(s.apply(&with_id(9, 1_200, set_a("dyn.test", "h.dyn.test", &["192.0.2.3"]))), refused);
}

/// Ids are forgotten by the log's clock (the latest request time applied), never a node's
/// clock; a request that arrives after that is refused as expired, so forgetting it can
/// never let a copy through.
#[test]
fn ids_are_forgotten_by_the_logs_clock_and_late_copies_are_refused() {
    use crate::state::session::RETAIN_AFTER_DEADLINE_MS;
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    let cmd = |ip: &str| set_a("dyn.test", "h.dyn.test", &[ip]);
    s.apply(&with_id(1, 0, cmd("192.0.2.1"))).unwrap();
    assert_eq!(s.sessions.applied.len(), 1);
    // Still remembered just before its deadline plus the margin.
    s.apply(&with_id(2, 5_000 + RETAIN_AFTER_DEADLINE_MS, cmd("192.0.2.2"))).unwrap();
    assert!(s.sessions.applied.contains_key(&RequestId(1)));
    // One millisecond later it is forgotten, and its copy is refused, not applied.
    s.apply(&with_id(3, 5_001 + RETAIN_AFTER_DEADLINE_MS, cmd("192.0.2.3"))).unwrap();
    assert!(!s.sessions.applied.contains_key(&RequestId(1)));
    let zones = s.zones.clone();
    assert_eq!(s.apply(&with_id(1, 0, cmd("192.0.2.1"))), Err(ApplyError::RequestExpired(RequestId(1))));
    assert_eq!(s.zones, zones);
    // Requests inside requests or groups are refused.
    let nested = with_id(4, 9_000, with_id(5, 9_000, cmd("192.0.2.4")));
    assert_eq!(s.apply(&nested), Err(ApplyError::NestedBatch));
}

/// A state without sessions is written in format 1 (a node of the first release reads a
/// snapshot of an upgraded node); one with sessions in format 2; both read back equal.
#[test]
fn a_state_is_written_in_the_oldest_format_that_holds_it() {
    let mut s = State::default();
    s.apply(&zone_cmd("dyn.test")).unwrap();
    assert_eq!(crate::codec::format_of(&s).unwrap(), 1);
    let back: State = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    s.apply(&with_id(1, 10, set_a("dyn.test", "h.dyn.test", &["192.0.2.1"]))).unwrap();
    assert_eq!(crate::codec::format_of(&s).unwrap(), 2);
    let back: State = crate::codec::decode(&crate::codec::encode(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let mut v = State::default();
    v.apply(&Command::SetClusterVersion { version: crate::state::ClusterVersion(2) }).unwrap();
    assert_eq!(crate::codec::format_of(&v).unwrap(), 2);
    // Commands of format 1 stay format 1; a request id needs format 2.
    assert_eq!(crate::codec::format_of(&zone_cmd("dyn.test")).unwrap(), 1);
    assert_eq!(crate::codec::format_of(&with_id(1, 0, zone_cmd("dyn.test"))).unwrap(), 2);
}
