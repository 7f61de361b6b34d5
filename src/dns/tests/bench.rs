//! Micro-benchmark: `cargo test --release --lib answer_speed -- --ignored --nocapture`.
//! Prints numbers; asserts nothing about time.

use std::hint::black_box;
use std::time::Instant;

use hickory_proto::rr::RecordType;

use super::*;

fn big_zone(hosts: usize) -> Zone {
    let mut z = zone(
        "big.test",
        &[("big.test", RType::Ns, 3600, "ns1.big.test."), ("ns1.big.test", RType::A, 3600, "192.0.2.53")],
    );
    for i in 0..hosts {
        let mut node = crate::model::Node::new();
        let ip = std::net::Ipv4Addr::from(0x0a00_0000u32 + i as u32);
        node.insert(RType::A, RecordSet::new(60, vec![RData::A(ip)]));
        z.nodes.insert(fqdn(&format!("host{i}.dyn.big.test")), node);
    }
    z
}

fn time_per_call(snap: &DnsSnapshot, query: &[u8], ctx: &QueryContext, iterations: u32) -> f64 {
    let mut out = Vec::with_capacity(1232);
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(crate::dns::answer::answer_into(snap, black_box(query), ctx, &mut out));
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture, ideally in release"]
fn answer_speed() {
    let t = Instant::now();
    let state = state_of(vec![big_zone(100_000)]);
    let snap = DnsSnapshot::build(&state);
    println!("snapshot build, 100k records: {:?}", t.elapsed());
    let ctx = QueryContext::udp();
    let positive = bytes(&with_edns(query("host4242.dyn.big.test.", RecordType::A), 1232, 0));
    let nxdomain = bytes(&with_edns(query("nohost.dyn.big.test.", RecordType::A), 1232, 0));
    let nodata = bytes(&with_edns(query("host4242.dyn.big.test.", RecordType::AAAA), 1232, 0));
    let refused = bytes(&query("www.example.org.", RecordType::A));
    for (label, q) in [("positive A", &positive), ("NXDOMAIN", &nxdomain), ("NODATA", &nodata), ("REFUSED", &refused)] {
        time_per_call(&snap, q, &ctx, 100_000);
        let ns = time_per_call(&snap, q, &ctx, 1_000_000);
        println!("answer() {label}: {ns:.0} ns/query");
    }
    let mut out = Vec::new();
    let alloc_start = Instant::now();
    for _ in 0..1_000_000 {
        out = black_box(crate::dns::answer(&snap, &positive, &ctx).unwrap_or_default());
    }
    println!("answer() positive A, allocating Vec: {:.0} ns/query", alloc_start.elapsed().as_nanos() as f64 / 1e6);
    black_box(out);
}

/// `cargo test --release --lib snapshot_update_speed -- --ignored --nocapture`
#[test]
#[ignore = "benchmark; run with --ignored --nocapture, ideally in release"]
fn snapshot_update_speed() {
    use crate::state::{ChangeSet, Command};
    for hosts in [10_000, 100_000, 1_000_000] {
        let mut state = state_of(vec![big_zone(hosts)]);
        let t = Instant::now();
        let snap = DnsSnapshot::build(&state);
        let build = t.elapsed();
        let origin = fqdn("big.test");
        let (mut full, mut inc) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let rounds = if hosts > 100_000 { 3 } else { 10 };
        let mut current = snap;
        for i in 0..rounds {
            let cmd = Command::SetRecordSet {
                zone: origin.clone(),
                name: fqdn(&format!("host{i}.dyn.big.test")),
                rtype: RType::A,
                ttl: 60,
                data: vec![RData::A(std::net::Ipv4Addr::new(192, 0, 2, i as u8))],
            };
            let applied = state.apply(&cmd).expect("apply");
            let mut changes = ChangeSet::default();
            changes.record(&applied);
            // Incremental first: dropping a whole rebuilt zone frees a million small blocks,
            // and glibc consolidates them on the next larger malloc, which would be charged
            // to whatever runs next.
            let t = Instant::now();
            let next = current.with_changes(&state, &changes);
            inc += t.elapsed();
            let t = Instant::now();
            let rebuilt = current.with_zones(&state, &changes.zone_set());
            full += t.elapsed();
            drop(rebuilt);
            current = next;
        }
        println!(
            "{hosts} hosts: full build {build:?}; one changed name: whole-zone rebuild {:?}, incremental {:?}",
            full / rounds,
            inc / rounds
        );
    }
}
