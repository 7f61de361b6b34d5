//! Building and incrementally updating the snapshot.

use std::collections::BTreeSet;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::*;
use crate::dns::view::snapshot::SnapshotPublisher;
use crate::metrics::{ZONE_RECORDS_GAUGE, ZONE_SERIAL_GAUGE};
use crate::state::StateObserver;

fn other_zone() -> Zone {
    zone(
        "other.test",
        &[("www.other.test", RType::A, 60, "198.51.100.1"), ("other.test", RType::Ns, 60, "ns.other.test.")],
    )
}

#[test]
fn incremental_build_reuses_unchanged_zones_and_drops_removed_ones() {
    let mut state = state_of(vec![example_zone(), other_zone()]);
    let first = DnsSnapshot::build(&state);
    let key_other = fqdn("other.test").to_wire();
    let key_example = fqdn("example.test").to_wire();

    state.zones.get_mut(&fqdn("example.test")).unwrap().nodes.remove(&fqdn("www.example.test"));
    let changed = BTreeSet::from([fqdn("example.test")]);
    let second = first.with_zones(&state, &changed);
    assert!(Arc::ptr_eq(first.zone(&key_other).unwrap(), second.zone(&key_other).unwrap()));
    assert!(!Arc::ptr_eq(first.zone(&key_example).unwrap(), second.zone(&key_example).unwrap()));
    let m = ask(&second, &query("www.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = ask(&first, &query("www.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "the old snapshot is untouched");

    state.zones.remove(&fqdn("other.test"));
    let third = second.with_zones(&state, &BTreeSet::from([fqdn("other.test")]));
    assert!(third.zone(&key_other).is_none());
    let m = ask(&third, &query("www.other.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn publisher_swaps_snapshots_and_sets_zone_gauges() {
    let publisher = SnapshotPublisher::new();
    let mut z = zone(
        "gauge.test",
        &[("gauge.test", RType::Ns, 60, "ns.gauge.test."), ("a.gauge.test", RType::A, 60, "192.0.2.1")],
    );
    z.serial = Serial(77);
    let mut state = state_of(vec![z]);
    publisher.state_changed(&state, None, 1);
    let m = ask(&publisher.current.load(), &query("a.gauge.test.", RecordType::A));
    assert_eq!(m.answers.len(), 1);
    assert_eq!(ZONE_SERIAL_GAUGE.with_label_values(&["gauge.test"]).get(), 77);
    assert_eq!(ZONE_RECORDS_GAUGE.with_label_values(&["gauge.test"]).get(), 3);

    state.zones.clear();
    publisher.state_changed(&state, Some(&BTreeSet::from([fqdn("gauge.test")])), 2);
    let m = ask(&publisher.current.load(), &query("a.gauge.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let text = crate::metrics::render();
    let has_label = text.lines().any(|l| l.contains("zone_serial{") && l.contains("gauge.test"));
    assert!(!has_label, "gauge of a deleted zone is removed");
}
