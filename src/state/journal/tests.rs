use proptest::prelude::*;

use super::*;
use crate::model::RecordSpec;
use crate::model::ZoneTransfer;
use crate::state::{Command, State};

fn n(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap()
}

fn create() -> Command {
    let o = n("z.test");
    Command::CreateZone {
        soa: SoaParams::defaults_for(&o),
        ns: vec![n("ns1.z.test")],
        origin: o,
        ns_ttl: 3600,
        serial: None,
    }
}

fn a(ip: u8) -> RData {
    RData::A(std::net::Ipv4Addr::new(192, 0, 2, ip))
}

#[test]
fn a_record_change_is_one_removed_and_one_added_rr() {
    let mut s = State::default();
    s.apply(&create()).unwrap();
    let set = |ips: &[u8], ttl| Command::SetRecordSet {
        zone: n("z.test"),
        name: n("h.z.test"),
        rtype: RType::A,
        ttl,
        data: ips.iter().map(|i| a(*i)).collect(),
    };
    s.apply(&set(&[1, 2], 60)).unwrap();
    s.apply(&set(&[2, 3], 60)).unwrap();
    let j = &s.journals[&n("z.test")];
    assert_eq!(j.entries.len(), 2, "creation starts an empty journal");
    let last = j.entries.back().unwrap();
    assert_eq!((last.from, last.to), (Serial(2), Serial(3)));
    assert_eq!(last.removed, vec![DiffRr { name: n("h.z.test"), ttl: 60, data: a(1) }]);
    assert_eq!(last.added, vec![DiffRr { name: n("h.z.test"), ttl: 60, data: a(3) }]);
    // A TTL change replaces the whole set.
    s.apply(&set(&[2, 3], 300)).unwrap();
    let last = s.journals[&n("z.test")].entries.back().unwrap().clone();
    assert_eq!((last.removed.len(), last.added.len()), (2, 2));
    assert!(last.added.iter().all(|r| r.ttl == 300));
}

#[test]
fn soa_change_is_a_change_of_the_soa_only() {
    let mut s = State::default();
    s.apply(&create()).unwrap();
    let mut soa = SoaParams::defaults_for(&n("z.test"));
    soa.refresh = 7200;
    s.apply(&Command::UpdateSoa { zone: n("z.test"), soa: soa.clone() }).unwrap();
    let e = s.journals[&n("z.test")].entries.back().unwrap().clone();
    assert!(e.removed.is_empty() && e.added.is_empty());
    assert_eq!((e.from_soa.refresh, e.to_soa.refresh), (3600, 7200));
}

#[test]
fn the_window_is_bounded_by_the_zone_setting() {
    let mut s = State::default();
    s.apply(&create()).unwrap();
    let transfer = ZoneTransfer { journal_versions: Some(3), ..ZoneTransfer::default() };
    s.apply(&Command::SetZoneTransfer { zone: n("z.test"), transfer }).unwrap();
    for i in 0..10 {
        let cmd = Command::SetRecordSet {
            zone: n("z.test"),
            name: n("h.z.test"),
            rtype: RType::A,
            ttl: 60,
            data: vec![a(i)],
        };
        s.apply(&cmd).unwrap();
    }
    assert_eq!(s.journals[&n("z.test")].entries.len(), 3);
    s.apply(&Command::DeleteZone { origin: n("z.test") }).unwrap();
    assert!(s.journals.is_empty() && s.transfer.is_empty());
}

fn name() -> impl Strategy<Value = Fqdn> {
    prop_oneof![Just(n("z.test")), Just(n("a.z.test")), Just(n("b.z.test")), Just(n("c.b.z.test"))]
}

fn rdata() -> impl Strategy<Value = (RType, Vec<RData>)> {
    prop_oneof![
        proptest::collection::vec((1u8..5).prop_map(a), 0..3).prop_map(|d| (RType::A, d)),
        proptest::collection::vec((0u8..3).prop_map(|i| RData::Txt(vec![vec![b'a' + i]])), 0..3)
            .prop_map(|d| (RType::Txt, d)),
        proptest::collection::vec(prop_oneof![Just(n("ns1.z.test")), Just(n("ns2.z.test"))].prop_map(RData::Ns), 0..2)
            .prop_map(|d| (RType::Ns, d)),
    ]
}

fn simple_command() -> impl Strategy<Value = Command> {
    let zone = n("z.test");
    let ttl = prop_oneof![Just(60u32), Just(300u32)];
    prop_oneof![
        4 => (name(), rdata(), ttl.clone()).prop_map({
            let zone = zone.clone();
            move |(name, (rtype, data), ttl)| Command::SetRecordSet { zone: zone.clone(), name, rtype, ttl, data }
        }),
        2 => (name(), rdata(), ttl.clone()).prop_map({
            let zone = zone.clone();
            move |(name, (rtype, data), ttl)| Command::AddRecords { zone: zone.clone(), name, rtype, ttl, data }
        }),
        1 => (name(), rdata()).prop_map({
            let zone = zone.clone();
            move |(name, (rtype, _))| Command::DeleteRecordSet { zone: zone.clone(), name, rtype }
        }),
        1 => (3000u32..3003).prop_map({
            let zone = zone.clone();
            move |refresh| {
                let mut soa = SoaParams::defaults_for(&zone);
                soa.refresh = refresh;
                Command::UpdateSoa { zone: zone.clone(), soa }
            }
        }),
        1 => (proptest::collection::vec((name(), (1u8..6).prop_map(a), ttl), 0..6), proptest::option::of(1u32..50)).prop_map({
            let zone = zone.clone();
            move |(rows, serial)| {
                let mut records: Vec<RecordSpec> = rows.into_iter().map(|(name, data, ttl)| RecordSpec { name, ttl, data }).collect();
                records.push(RecordSpec { name: zone.clone(), ttl: 3600, data: RData::Ns(n("ns1.z.test")) });
                Command::ReplaceZone { zone: zone.clone(), soa: SoaParams::defaults_for(&zone), serial: serial.map(Serial), records }
            }
        }),
        1 => proptest::option::of(0u32..6).prop_map({
            let zone = zone.clone();
            move |v| Command::SetZoneTransfer { zone: zone.clone(), transfer: ZoneTransfer { journal_versions: v, ..ZoneTransfer::default() } }
        }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![4 => simple_command(), 1 => proptest::collection::vec(simple_command(), 1..4).prop_map(Command::Batch)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Applying the IXFR diffs from serial S to the zone at S gives exactly the zone at the
    /// current serial, for every S still in the window.
    #[test]
    fn journal_diffs_lead_from_every_kept_serial_to_the_current_zone(cmds in proptest::collection::vec(command(), 1..40)) {
        let origin = n("z.test");
        let mut s = State::default();
        s.apply(&create()).unwrap();
        let mut history = vec![s.zones[&origin].clone()];
        for cmd in &cmds {
            if s.apply(cmd).is_ok() {
                history.push(s.zones[&origin].clone());
            }
        }
        let current = &s.zones[&origin];
        let journal = &s.journals[&origin];
        if let Some(last) = journal.entries.back() {
            prop_assert_eq!(last.to, current.serial);
        }
        let mut checked = 0;
        for old in &history {
            let Some(entries) = journal.since(old.serial) else { continue };
            let mut z = old.clone();
            for e in entries {
                prop_assert!(apply_entry(&mut z, e), "entry {:?} does not apply", e);
            }
            prop_assert_eq!(&z, current);
            checked += 1;
        }
        prop_assert_eq!(checked > 0, !journal.entries.is_empty());
    }
}
