//! Authoritative answers, one behaviour per test.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{RData as H, Record, RecordType};

use super::*;

fn rows(records: &[Record]) -> Vec<(String, RecordType, u32, String)> {
    records.iter().map(|r| (r.name.to_ascii(), r.record_type(), r.ttl, r.data.to_string())).collect()
}

fn rrs(m: &Message, section: &[Record], t: RecordType) -> Vec<String> {
    let _ = m;
    section.iter().filter(|r| r.record_type() == t).map(|r| r.data.to_string()).collect()
}

fn assert_negative_soa(m: &Message) {
    assert!(m.answers.is_empty(), "{:?}", m.answers);
    let auth = rows(&m.authorities);
    assert_eq!(auth.len(), 1, "{auth:?}");
    assert_eq!(auth[0].0, "example.test.");
    assert_eq!(auth[0].1, RecordType::SOA);
    assert_eq!(auth[0].2, 60, "negative TTL is min(SOA TTL 3600, minimum 60)");
}

#[test]
fn address_records_are_answered_authoritatively() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("www.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(m.metadata.recursion_desired, "RD is copied");
    assert!(!m.metadata.recursion_available);
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(rows(&m.answers), vec![("www.example.test.".into(), RecordType::A, 300, "192.0.2.1".into())]);
    let m = ask(&snap, &query("www.example.test.", RecordType::AAAA));
    match &m.answers[..] {
        [r] => assert!(matches!(&r.data, H::AAAA(ip) if ip.0 == aaaa("2001:db8::1"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_stored_type_is_served() {
    let snap = example_snapshot();
    let cases = [
        ("example.test.", RecordType::TXT, "v=spf1 -all"),
        ("example.test.", RecordType::MX, "10 mail.example.test."),
        ("example.test.", RecordType::CAA, "letsencrypt.org"),
        ("_sip._tcp.example.test.", RecordType::SRV, "1 2 5060 sip.example.test."),
        ("1.ptr.example.test.", RecordType::PTR, "www.example.test."),
        ("example.test.", RecordType::SOA, "ns1.example.test. hostmaster.example.test. 2024010101"),
    ];
    for (name, t, want) in cases {
        let m = ask(&snap, &query(name, t));
        assert!(m.metadata.authoritative, "{name} {t}");
        let got = rrs(&m, &m.answers, t);
        assert_eq!(got.len(), 1, "{name} {t}: {got:?}");
        assert!(got[0].contains(want), "{name} {t}: {got:?} lacks {want}");
    }
    let soa = ask(&snap, &query("example.test.", RecordType::SOA));
    assert_eq!(soa.answers[0].ttl, 3600, "a positive SOA answer carries the SOA's own TTL");
}

#[test]
fn mx_and_srv_answers_carry_in_zone_addresses() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("example.test.", RecordType::MX));
    assert_eq!(rows(&m.additionals), vec![("mail.example.test.".into(), RecordType::A, 300, "192.0.2.25".into())]);
    let m = ask(&snap, &query("_sip._tcp.example.test.", RecordType::SRV));
    assert_eq!(rrs(&m, &m.additionals, RecordType::A), vec!["192.0.2.60".to_string()]);
}

#[test]
fn apex_ns_query_has_glue_for_in_zone_servers_only() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("example.test.", RecordType::NS));
    assert!(m.metadata.authoritative);
    let mut ns = rrs(&m, &m.answers, RecordType::NS);
    ns.sort();
    assert_eq!(ns, vec!["ns.other.test.".to_string(), "ns1.example.test.".to_string()]);
    let glue = rows(&m.additionals);
    assert_eq!(glue.len(), 2, "{glue:?}");
    assert!(glue.iter().all(|g| g.0 == "ns1.example.test."));
}

#[test]
fn missing_name_is_nxdomain_with_soa() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("nope.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert_negative_soa(&m);
}

#[test]
fn missing_type_is_nodata_with_soa() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("mail.example.test.", RecordType::AAAA));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_negative_soa(&m);
}

#[test]
fn empty_non_terminal_is_nodata_not_nxdomain() {
    let snap = example_snapshot();
    for name in ["b.c.example.test.", "c.example.test.", "_tcp.example.test."] {
        let m = ask(&snap, &query(name, RecordType::A));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert_negative_soa(&m);
    }
}

#[test]
fn wildcard_synthesizes_answers_owned_by_the_query_name() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("anything.wild.example.test.", RecordType::A));
    assert!(m.metadata.authoritative);
    assert_eq!(rows(&m.answers), vec![("anything.wild.example.test.".into(), RecordType::A, 120, "192.0.2.99".into())]);
    // Deeper names are covered too: the closest encloser is wild.example.test.
    let m = ask(&snap, &query("a.b.wild.example.test.", RecordType::TXT));
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].name.to_ascii(), "a.b.wild.example.test.");
    // A type the wildcard lacks: NODATA.
    let m = ask(&snap, &query("x.wild.example.test.", RecordType::MX));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_negative_soa(&m);
}

#[test]
fn existing_names_and_empty_non_terminals_block_the_wildcard() {
    let snap = example_snapshot();
    // sub.wild exists as an empty non-terminal (host.sub.wild has data): NODATA.
    let m = ask(&snap, &query("sub.wild.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_negative_soa(&m);
    // Below it the closest encloser is sub.wild, which has no wildcard child.
    let m = ask(&snap, &query("zz.sub.wild.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = ask(&snap, &query("host.sub.wild.example.test.", RecordType::A));
    assert_eq!(rrs(&m, &m.answers, RecordType::A), vec!["192.0.2.98".to_string()]);
}

#[test]
fn cname_chain_inside_the_zone_is_followed() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("alias2.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        rows(&m.answers),
        vec![
            ("alias2.example.test.".into(), RecordType::CNAME, 300, "alias.example.test.".into()),
            ("alias.example.test.".into(), RecordType::CNAME, 300, "www.example.test.".into()),
            ("www.example.test.".into(), RecordType::A, 300, "192.0.2.1".into()),
        ]
    );
    // Asking for the CNAME itself does not chase.
    let m = ask(&snap, &query("alias2.example.test.", RecordType::CNAME));
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn wildcard_cname_is_synthesized_and_chased() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("foo.wc.example.test.", RecordType::AAAA));
    let r = rows(&m.answers);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!((r[0].0.as_str(), r[0].1), ("foo.wc.example.test.", RecordType::CNAME));
    assert_eq!((r[1].0.as_str(), r[1].1), ("www.example.test.", RecordType::AAAA));
}

#[test]
fn chain_ending_in_a_missing_name_is_nxdomain_with_soa() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("dangling.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    // A target outside the zone: just the CNAME, NOERROR, no SOA.
    let m = ask(&snap, &query("ext.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    assert!(m.authorities.is_empty());
}

#[test]
fn cname_loop_is_bounded() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("loop1.example.test.", RecordType::A));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let names: Vec<String> = m.answers.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(names, vec!["loop1.example.test.", "loop2.example.test."]);
}

#[test]
fn names_below_a_delegation_get_a_referral_with_glue() {
    let snap = example_snapshot();
    for name in ["deleg.example.test.", "host.deleg.example.test.", "ns.deleg.example.test."] {
        let m = ask(&snap, &query(name, RecordType::A));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(!m.metadata.authoritative, "{name}: a referral is not authoritative");
        assert!(m.answers.is_empty(), "{name}");
        assert_eq!(
            rows(&m.authorities),
            vec![("deleg.example.test.".into(), RecordType::NS, 3600, "ns.deleg.example.test.".into())]
        );
        assert_eq!(
            rows(&m.additionals),
            vec![("ns.deleg.example.test.".into(), RecordType::A, 3600, "192.0.2.100".into())]
        );
    }
    // DS is answered by the parent side: NODATA, authoritative.
    let m = ask(&snap, &query("deleg.example.test.", RecordType::DS));
    assert!(m.metadata.authoritative);
    assert_negative_soa(&m);
    // A CNAME into the delegation: the CNAME plus the referral.
    let m = ask(&snap, &query("todeleg.example.test.", RecordType::A));
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::NS);
}

#[test]
fn names_outside_our_zones_are_refused() {
    let snap = example_snapshot();
    for name in ["www.example.org.", "test.", ".", "badexample.test."] {
        let m = ask(&snap, &query(name, RecordType::A));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(!m.metadata.authoritative, "{name}");
    }
}

#[test]
fn other_classes_and_axfr_outside_the_transfer_path_are_refused() {
    let snap = example_snapshot();
    let mut m = query("www.example.test.", RecordType::A);
    m.queries[0].query_class = hickory_proto::rr::DNSClass::CH;
    assert_eq!(ask(&snap, &m).metadata.response_code, ResponseCode::Refused);
    // TCP transfers are served by `xfr` before `answer`; here AXFR is refused (UDP) and
    // IXFR without a client SOA gets the single SOA (see tests/xfr.rs).
    let m = ask_via(&snap, &query("example.test.", RecordType::AXFR), QueryContext::udp());
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn edns_version_above_zero_gets_badvers_with_opt_version_zero() {
    let snap = example_snapshot();
    let m = ask(&snap, &with_edns(query("www.example.test.", RecordType::A), 1232, 1));
    // hickory decodes 16 as BADSIG (TSIG shares the number); compare the value.
    assert_eq!(u16::from(m.metadata.response_code), 16, "BADVERS");
    assert!(m.answers.is_empty());
    let edns = m.edns.expect("OPT in the response");
    assert_eq!(edns.version(), 0);
}

#[test]
fn edns_query_gets_opt_with_our_payload_size() {
    let snap = example_snapshot();
    let m = ask(&snap, &with_edns(query("www.example.test.", RecordType::A), 4096, 0));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let edns = m.edns.expect("OPT in the response");
    assert_eq!((edns.max_payload(), edns.version()), (1232, 0));
    let m = ask(&snap, &query("www.example.test.", RecordType::A));
    assert!(m.edns.is_none(), "no OPT without one in the query");
}

#[test]
fn unsupported_opcodes_get_notimp_with_the_question() {
    let snap = example_snapshot();
    for op in [OpCode::Update, OpCode::Status, OpCode::Notify] {
        let mut m = with_edns(query("example.test.", RecordType::SOA), 1232, 0);
        m.metadata.op_code = op;
        let r = ask(&snap, &m);
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp, "{op:?}");
        assert_eq!(r.metadata.op_code, op);
        assert_eq!(r.queries.len(), 1, "{op:?}: question echoed");
        assert!(r.edns.is_some(), "{op:?}: OPT kept");
    }
}

#[test]
fn large_answer_is_truncated_over_udp_and_complete_over_tcp() {
    let snap = example_snapshot();
    let q = query("big.example.test.", RecordType::TXT);
    let udp = ask(&snap, &q);
    assert!(udp.metadata.truncation);
    assert!(udp.answers.is_empty() && udp.authorities.is_empty());
    assert_eq!(udp.queries.len(), 1);
    let tcp = ask_via(&snap, &q, QueryContext::tcp());
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 20);
    // With EDNS the limit grows to 1232 but not beyond, and the OPT survives truncation.
    let edns = ask(&snap, &with_edns(q.clone(), 65000, 0));
    assert!(edns.metadata.truncation);
    assert!(edns.answers.is_empty());
    assert!(edns.edns.is_some(), "TC keeps OPT");
}

#[test]
fn udp_size_limits_follow_the_client_edns_size() {
    let snap = example_snapshot();
    let q = query("big.example.test.", RecordType::TXT);
    for (payload, max) in [(0u16, 512usize), (512, 512), (1000, 1000), (4096, 1232)] {
        let out = answer(&snap, &bytes(&with_edns(q.clone(), payload, 0)), &QueryContext::udp()).unwrap();
        assert!(out.len() <= max, "payload {payload}: {} bytes", out.len());
    }
}

#[test]
fn question_is_echoed_with_the_clients_case() {
    let snap = example_snapshot();
    let q = bytes(&query("wWw.ExAmPlE.tEsT.", RecordType::A));
    let out = answer(&snap, &q, &QueryContext::udp()).unwrap();
    let question_len = q.len() - 12;
    assert_eq!(&out[12..12 + question_len], &q[12..], "question bytes echoed verbatim");
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rrs(&m, &m.answers, RecordType::A), vec!["192.0.2.1".to_string()]);
}

#[test]
fn any_query_gets_a_minimal_answer() {
    let snap = example_snapshot();
    let m = ask(&snap, &query("www.example.test.", RecordType::ANY));
    assert_eq!(m.answers.len(), 1, "one RRset, not both A and AAAA");
    let m = ask(&snap, &query("example.test.", RecordType::ANY));
    assert_eq!(rows(&m.answers).len(), 1);
    assert_eq!(m.answers[0].record_type(), RecordType::SOA);
}

#[test]
fn longest_matching_zone_answers() {
    let parent = zone("test", &[("www.test", RType::A, 60, "192.0.2.200"), ("test", RType::Ns, 60, "ns.test.")]);
    let snap = DnsSnapshot::build(&state_of(vec![parent, example_zone()]));
    let m = ask(&snap, &query("nope.example.test.", RecordType::A));
    assert_eq!(m.authorities[0].name.to_ascii(), "example.test.");
    let m = ask(&snap, &query("nope.test.", RecordType::A));
    assert_eq!(m.authorities[0].name.to_ascii(), "test.");
}

#[test]
fn answers_are_counted_by_qtype_rcode_and_transport() {
    use crate::metrics::{DNS_DROPPED_TOTAL, DNS_QUERIES_TOTAL};
    let snap = example_snapshot();
    let counter = DNS_QUERIES_TOTAL.with_label_values(&["CAA", "NXDOMAIN", "tcp"]);
    let before = counter.get();
    ask_via(&snap, &query("nope.example.test.", RecordType::CAA), QueryContext::tcp());
    assert_eq!(counter.get(), before + 1);
    let drops = DNS_DROPPED_TOTAL.with_label_values(&["short"]);
    let before = drops.get();
    assert!(answer(&snap, &[0; 5], &QueryContext::udp()).is_none());
    assert!(drops.get() > before);
}
