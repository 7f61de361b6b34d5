//! Tests of the DNS query path. Queries are built and responses decoded with
//! hickory-proto, an implementation independent of ours.

mod answering;
mod bench;
mod compression;
mod incremental;
mod malformed;
mod server;
mod snapshot;
mod xfr;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use super::answer::{answer, QueryContext};
use crate::dns::view::snapshot::DnsSnapshot;
use crate::model::{Fqdn, RData, RType, RecordSet, Serial, SoaParams, Zone};
use crate::state::State;

pub(super) fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).expect("test name")
}

/// Builds a zone from (owner, type, ttl, presentation data) rows.
pub(super) fn zone(origin: &str, rows: &[(&str, RType, u32, &str)]) -> Zone {
    let origin = fqdn(origin);
    let mut soa = SoaParams::defaults_for(&origin);
    soa.ttl = 3600;
    soa.minimum = 60;
    let mut zone = Zone::new(origin, soa, Serial(2024010101));
    let mut grouped: BTreeMap<(Fqdn, RType), (u32, Vec<RData>)> = BTreeMap::new();
    for (name, t, ttl, data) in rows {
        let entry = grouped.entry((fqdn(name), *t)).or_insert((*ttl, Vec::new()));
        entry.1.push(RData::parse(*t, data).expect("test rdata"));
    }
    for ((name, t), (ttl, data)) in grouped {
        zone.nodes.entry(name).or_default().insert(t, RecordSet::new(ttl, data));
    }
    zone
}

pub(super) fn state_of(zones: Vec<Zone>) -> State {
    let mut state = State::default();
    for z in zones {
        state.zones.insert(z.origin.clone(), z);
    }
    state
}

/// The zone most tests ask about.
pub(super) fn example_zone() -> Zone {
    let big: Vec<String> = (0..20).map(|i| format!("\"{}{}\"", i, "x".repeat(200))).collect();
    let big_refs: Vec<(&str, RType, u32, &str)> =
        big.iter().map(|s| ("big.example.test", RType::Txt, 300, s.as_str())).collect();
    let mut rows = vec![
        ("example.test", RType::Ns, 3600, "ns1.example.test."),
        ("example.test", RType::Ns, 3600, "ns.other.test."),
        ("example.test", RType::Mx, 300, "10 mail.example.test."),
        ("example.test", RType::Txt, 300, "\"v=spf1 -all\""),
        ("example.test", RType::Caa, 300, "0 issue \"letsencrypt.org\""),
        ("ns1.example.test", RType::A, 300, "192.0.2.53"),
        ("ns1.example.test", RType::Aaaa, 300, "2001:db8::53"),
        ("mail.example.test", RType::A, 300, "192.0.2.25"),
        ("www.example.test", RType::A, 300, "192.0.2.1"),
        ("www.example.test", RType::Aaaa, 300, "2001:db8::1"),
        ("_sip._tcp.example.test", RType::Srv, 300, "1 2 5060 sip.example.test."),
        ("sip.example.test", RType::A, 300, "192.0.2.60"),
        ("1.ptr.example.test", RType::Ptr, 300, "www.example.test."),
        ("a.b.c.example.test", RType::A, 300, "192.0.2.7"),
        ("*.wild.example.test", RType::A, 120, "192.0.2.99"),
        ("*.wild.example.test", RType::Txt, 120, "\"wild\""),
        ("host.sub.wild.example.test", RType::A, 300, "192.0.2.98"),
        ("*.wc.example.test", RType::Cname, 300, "www.example.test."),
        ("alias.example.test", RType::Cname, 300, "www.example.test."),
        ("alias2.example.test", RType::Cname, 300, "alias.example.test."),
        ("loop1.example.test", RType::Cname, 300, "loop2.example.test."),
        ("loop2.example.test", RType::Cname, 300, "loop1.example.test."),
        ("dangling.example.test", RType::Cname, 300, "nothere.example.test."),
        ("ext.example.test", RType::Cname, 300, "www.elsewhere.test."),
        ("deleg.example.test", RType::Ns, 3600, "ns.deleg.example.test."),
        ("ns.deleg.example.test", RType::A, 3600, "192.0.2.100"),
        ("todeleg.example.test", RType::Cname, 300, "host.deleg.example.test."),
    ];
    rows.extend(big_refs);
    zone("example.test", &rows)
}

pub(super) fn example_snapshot() -> DnsSnapshot {
    DnsSnapshot::build(&state_of(vec![example_zone()]))
}

/// A query message as a stub resolver would send it (RD set, no EDNS).
pub(super) fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(0xbeef, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("test name"), qtype));
    m
}

pub(super) fn with_edns(mut m: Message, payload: u16, version: u8) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    edns.set_version(version);
    m.set_edns(edns);
    m
}

pub(super) fn bytes(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encode test query")
}

/// Answers over UDP and decodes the response.
pub(super) fn ask(snap: &DnsSnapshot, m: &Message) -> Message {
    ask_via(snap, m, QueryContext::udp())
}

pub(super) fn ask_via(snap: &DnsSnapshot, m: &Message, ctx: QueryContext) -> Message {
    let out = answer(snap, &bytes(m), &ctx).expect("an answer");
    Message::from_vec(&out).expect("response decodes")
}

pub(super) fn aaaa(ip: &str) -> Ipv6Addr {
    ip.parse().expect("test ip")
}
