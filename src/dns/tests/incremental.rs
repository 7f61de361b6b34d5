//! The incremental snapshot update gives exactly what a full rebuild gives.

use proptest::prelude::*;

use super::fqdn;
use crate::dns::view::snapshot::DnsSnapshot;
use crate::model::RecordSpec;
use crate::model::{Fqdn, RData, RType, SoaParams};
use crate::state::{ChangeSet, Command, State};

const ORIGIN: &str = "z.test";

fn name() -> impl Strategy<Value = Fqdn> {
    // Deep names create and drop empty non-terminals; "d.z.test" becomes a cut with NS.
    prop_oneof![
        Just("z.test"),
        Just("a.z.test"),
        Just("b.z.test"),
        Just("c.b.z.test"),
        Just("x.y.w.z.test"),
        Just("d.z.test"),
        Just("e.d.z.test"),
        Just("mail.z.test"),
    ]
    .prop_map(fqdn)
}

fn target() -> impl Strategy<Value = Fqdn> {
    prop_oneof![Just("mail.z.test"), Just("a.z.test"), Just("c.b.z.test"), Just("out.other.test")].prop_map(fqdn)
}

fn rdata() -> impl Strategy<Value = (RType, Vec<RData>)> {
    let a = |i: u8| RData::A(std::net::Ipv4Addr::new(192, 0, 2, i));
    prop_oneof![
        3 => proptest::collection::vec((1u8..5).prop_map(a), 0..3).prop_map(|d| (RType::A, d)),
        1 => proptest::collection::vec(target().prop_map(RData::Ns), 0..2).prop_map(|d| (RType::Ns, d)),
        1 => proptest::collection::vec(target().prop_map(|t| RData::Mx { preference: 10, exchange: t }), 0..2)
            .prop_map(|d| (RType::Mx, d)),
        1 => target().prop_map(|t| (RType::Cname, vec![RData::Cname(t)])),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let zone = fqdn(ORIGIN);
    let z = zone.clone();
    let set = (name(), rdata()).prop_map(move |(name, (rtype, data))| Command::SetRecordSet {
        zone: z.clone(),
        name,
        rtype,
        ttl: 60,
        data,
    });
    let z = zone.clone();
    let delete =
        (name(), rdata()).prop_map(move |(name, (rtype, _))| Command::DeleteRecordSet { zone: z.clone(), name, rtype });
    let z = zone.clone();
    let replace = proptest::collection::vec((name(), (1u8..4)), 0..4).prop_map(move |rows| {
        let mut records: Vec<RecordSpec> = rows
            .into_iter()
            .map(|(name, i)| RecordSpec { name, ttl: 60, data: RData::A(std::net::Ipv4Addr::new(198, 51, 100, i)) })
            .collect();
        records.push(RecordSpec { name: z.clone(), ttl: 3600, data: RData::Ns(fqdn("ns1.z.test")) });
        Command::ReplaceZone { zone: z.clone(), soa: SoaParams::defaults_for(&z), serial: None, records }
    });
    let single = prop_oneof![6 => set, 2 => delete, 1 => replace];
    prop_oneof![4 => single.clone(), 1 => proptest::collection::vec(single, 1..4).prop_map(Command::Batch)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_snapshot_equals_full_rebuild(cmds in proptest::collection::vec(command(), 1..40)) {
        let origin = fqdn(ORIGIN);
        let mut state = State::default();
        let create = Command::CreateZone {
            soa: SoaParams::defaults_for(&origin),
            ns: vec![fqdn("ns1.z.test")],
            origin: origin.clone(),
            ns_ttl: 3600,
            serial: None,
        };
        state.apply(&create).unwrap();
        let mut snap = DnsSnapshot::build(&state);
        // Several entries per published batch, like the state machine does.
        for chunk in cmds.chunks(3) {
            let mut changes = ChangeSet::default();
            for cmd in chunk {
                if let Ok(applied) = state.apply(cmd) {
                    changes.record(&applied);
                }
            }
            snap = snap.with_changes(&state, &changes);
            let full = DnsSnapshot::build(&state);
            let key = origin.to_wire();
            let (inc, full) = (snap.zone(&key).unwrap(), full.zone(&key).unwrap());
            prop_assert!(inc.same_content(full), "incremental {:#?}\nfull {:#?}", inc.nodes.iter().collect::<Vec<_>>(), full.nodes.iter().collect::<Vec<_>>());
            prop_assert_eq!(inc.record_count, state.zones[&origin].record_count());
        }
    }
}
