//! Compact answers: name compression in the pre-rendered RRsets and its relocation,
//! the additional section one RRset at a time, glue per RFC 9471, and the size limits.
//! Responses are decoded with hickory-proto, which follows every pointer.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use proptest::prelude::*;

use super::*;
use crate::model::presentation::from_hickory;

/// A zone with a delegation to `n` name servers below the cut, each with A and AAAA glue.
fn delegation(n: usize) -> Zone {
    let ns: Vec<String> = (1..=n).map(|i| format!("ns{i}.sub.example.test.")).collect();
    let a: Vec<String> = (1..=n).map(|i| format!("192.0.2.{i}")).collect();
    let aaaa: Vec<String> = (1..=n).map(|i| format!("2001:db8::{i}")).collect();
    let mut rows = vec![
        ("example.test", RType::Ns, 3600, "ns1.example.test."),
        ("ns1.example.test", RType::A, 3600, "192.0.2.53"),
    ];
    for ((ns, a), aaaa) in ns.iter().zip(&a).zip(&aaaa) {
        rows.push(("sub.example.test", RType::Ns, 3600, ns));
        let owner = &ns[..ns.len() - 1];
        rows.push((owner, RType::A, 3600, a));
        rows.push((owner, RType::Aaaa, 3600, aaaa));
    }
    zone("example.test", &rows)
}

fn answer_bytes(snap: &DnsSnapshot, m: &Message, ctx: QueryContext) -> Vec<u8> {
    answer(snap, &bytes(m), &ctx).expect("an answer")
}

#[test]
fn a_delegation_to_four_servers_with_glue_fits_a_client_without_edns() {
    let snap = DnsSnapshot::build(&state_of(vec![delegation(4)]));
    let out = answer_bytes(&snap, &query("www.sub.example.test.", RecordType::A), QueryContext::udp());
    let m = Message::from_vec(&out).unwrap();
    assert!(!m.metadata.truncation, "{} bytes", out.len());
    assert!(out.len() <= 512);
    assert_eq!(m.authorities.len(), 4);
    assert_eq!(m.additionals.len(), 8, "A and AAAA of every server");
    println!("4-NS referral without EDNS: {} bytes", out.len());
}

#[test]
fn a_delegation_to_thirteen_servers_fits_1232_octets() {
    let snap = DnsSnapshot::build(&state_of(vec![delegation(13)]));
    let q = with_edns(query("www.sub.example.test.", RecordType::A), 1232, 0);
    let out = answer_bytes(&snap, &q, QueryContext::udp());
    let m = Message::from_vec(&out).unwrap();
    assert!(!m.metadata.truncation, "{} bytes", out.len());
    assert_eq!((m.authorities.len(), m.additionals.len()), (13, 26));
    println!("13-NS referral at 1232: {} bytes", out.len());
    // Without EDNS the in-domain glue cannot all fit: TC, the client retries over TCP.
    let out = answer_bytes(&snap, &query("www.sub.example.test.", RecordType::A), QueryContext::udp());
    let m = Message::from_vec(&out).unwrap();
    assert!(m.metadata.truncation && out.len() <= 512);
}

/// A name server asked for itself, or the SOA's MNAME: the name in RDATA becomes a
/// pointer to the question, as a compressor with a table of the whole message writes it.
#[test]
fn rdata_names_equal_to_the_question_point_to_it() {
    let snap = DnsSnapshot::build(&state_of(vec![delegation(4)]));
    let size = |name: &str, t: RecordType| {
        let out = answer_bytes(&snap, &query(name, t), QueryContext::udp());
        let m = Message::from_vec(&out).unwrap();
        (out.len(), m)
    };
    let (itself, m) = size("ns1.sub.example.test.", RecordType::A);
    let (other, _) = size("nsx.sub.example.test.", RecordType::A);
    assert_eq!(itself + 4, other, "\\x03ns1 + pointer became one pointer");
    let mut ns: Vec<String> = m.authorities.iter().map(|r| r.data.to_string()).collect();
    ns.sort();
    assert_eq!(ns, (1..=4).map(|i| format!("ns{i}.sub.example.test.")).collect::<Vec<_>>());
    assert_eq!(m.additionals.len(), 8);
    assert!(m.additionals.iter().any(|r| r.name.to_ascii() == "ns1.sub.example.test."));
    // The SOA of a negative answer for its MNAME (ns1.example.test).
    let (mname, m) = size("ns1.example.test.", RecordType::TXT);
    let (nx, _) = size("ns9.example.test.", RecordType::TXT);
    assert_eq!(mname + 4, nx);
    assert!(m.authorities[0].data.to_string().starts_with("ns1.example.test. hostmaster.example.test."));
}

/// Optional additional data that does not fit is left out RRset by RRset, never with TC;
/// what fits is sent.
#[test]
fn additional_rrsets_are_added_while_they_fit() {
    let targets: Vec<String> = (0..12).map(|i| format!("10 mx{i}.example.test.")).collect();
    let v6: Vec<String> = (0..12).map(|i| format!("2001:db8::{i}")).collect();
    let mut rows = vec![("example.test", RType::Ns, 3600, "ns.other.test.")];
    for t in &targets {
        rows.push(("example.test", RType::Mx, 300, t));
    }
    let owners: Vec<String> = (0..12).map(|i| format!("mx{i}.example.test")).collect();
    for (owner, v6) in owners.iter().zip(&v6) {
        rows.push((owner, RType::Aaaa, 300, v6));
    }
    let snap = DnsSnapshot::build(&state_of(vec![zone("example.test", &rows)]));
    let out = answer_bytes(&snap, &query("example.test.", RecordType::MX), QueryContext::udp());
    let m = Message::from_vec(&out).unwrap();
    assert!(!m.metadata.truncation);
    assert!(out.len() <= 512);
    assert_eq!(m.answers.len(), 12);
    assert!(!m.additionals.is_empty() && m.additionals.len() < 12, "{} additional RRs", m.additionals.len());
    let tcp =
        Message::from_vec(&answer_bytes(&snap, &query("example.test.", RecordType::MX), QueryContext::tcp())).unwrap();
    assert_eq!(tcp.additionals.len(), 12);
}

/// RFC 9471: sibling glue (a server in the parent zone but not below the cut) is
/// optional; in-domain glue is required.
#[test]
fn sibling_glue_is_optional_and_in_domain_glue_required() {
    let addrs: Vec<String> = (0..20).map(|i| format!("2001:db8::{i}")).collect();
    let mut rows = vec![
        ("example.test", RType::Ns, 3600, "ns.other.test."),
        ("sub.example.test", RType::Ns, 3600, "ns.sub.example.test."),
        ("sub.example.test", RType::Ns, 3600, "sibling.example.test."),
        ("ns.sub.example.test", RType::A, 3600, "192.0.2.1"),
    ];
    for a in &addrs {
        rows.push(("sibling.example.test", RType::Aaaa, 3600, a));
    }
    let snap = DnsSnapshot::build(&state_of(vec![zone("example.test", &rows)]));
    let m = ask(&snap, &query("x.sub.example.test.", RecordType::A));
    assert!(!m.metadata.truncation);
    let glue: Vec<String> = m.additionals.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(glue, vec!["ns.sub.example.test."], "the 20 sibling AAAA do not fit 512 octets");
    let tcp = ask_via(&snap, &query("x.sub.example.test.", RecordType::A), QueryContext::tcp());
    assert_eq!(tcp.additionals.len(), 21);

    // The same 20 addresses on an in-domain server: required, so TC.
    let mut rows = vec![
        ("example.test", RType::Ns, 3600, "ns.other.test."),
        ("sub.example.test", RType::Ns, 3600, "ns.sub.example.test."),
    ];
    for a in &addrs {
        rows.push(("ns.sub.example.test", RType::Aaaa, 3600, a));
    }
    let snap = DnsSnapshot::build(&state_of(vec![zone("example.test", &rows)]));
    let m = ask(&snap, &query("x.sub.example.test.", RecordType::A));
    assert!(m.metadata.truncation);
}

#[test]
fn names_in_rdata_are_compressed_against_the_question_and_each_other() {
    let exchanges: Vec<String> = (0..40).map(|i| format!("{i} mx{i}.mail.provider.example.")).collect();
    let rows: Vec<(&str, RType, u32, &str)> =
        exchanges.iter().map(|e| ("mxbig.example.test", RType::Mx, 300, e.as_str())).collect();
    let snap = DnsSnapshot::build(&state_of(vec![zone("example.test", &rows)]));
    let q = query("mxbig.example.test.", RecordType::MX);
    let out = answer_bytes(&snap, &q, QueryContext::tcp());
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.answers.len(), 40);
    let mut want: Vec<String> = exchanges.clone();
    let mut got: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // Each RR: owner pointer 2, header 10, preference 2, "mxN" label + pointer.
    let header_and_question = 12 + "mxbig.example.test.".len() + 1 + 4;
    let rrs: usize = (0..40).map(|i| 2 + 10 + 2 + 1 + format!("mx{i}").len() + 2).sum();
    // The first exchange ends in "mail.provider.example." in full (23 octets) instead of
    // a pointer.
    assert_eq!(out.len(), header_and_question + rrs + "mail.provider.example.".len() + 1 - 2);
    println!("40 MX records: {} bytes", out.len());
}

#[test]
fn the_expire_option_answers_soa_queries_that_ask_for_it() {
    let snap = example_snapshot();
    let mut q = with_edns(query("example.test.", RecordType::SOA), 1232, 0);
    let edns = q.edns.as_mut().unwrap();
    edns.options_mut().insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(9, Vec::new()));
    let out = answer_bytes(&snap, &q, QueryContext::udp());
    let expire = 1_209_600u32.to_be_bytes();
    let option = [&[0, 9, 0, 4][..], &expire].concat();
    assert!(out.windows(8).any(|w| w == option), "EXPIRE in the OPT record");
    // Not for other types, nor without the option.
    let mut a = with_edns(query("www.example.test.", RecordType::A), 1232, 0);
    a.edns.as_mut().unwrap().options_mut().insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(9, Vec::new()));
    assert!(!answer_bytes(&snap, &a, QueryContext::udp()).windows(8).any(|w| w == option));
    let plain = with_edns(query("example.test.", RecordType::SOA), 1232, 0);
    assert!(!answer_bytes(&snap, &plain, QueryContext::udp()).windows(8).any(|w| w == option));
}

/// genreport `opcodeflg`: an unknown opcode with every flag set gets NOTIMP with none of
/// RD, CD, AD, RA, AA, Z echoed (what BIND does).
#[test]
fn unknown_opcodes_echo_no_query_flags() {
    let snap = example_snapshot();
    // Opcode 15, TC RD RA Z AD CD AA all set, no question.
    let q = [0x12, 0x34, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0];
    let out = answer(&snap, &q, &QueryContext::udp()).unwrap();
    assert_eq!(out.len(), 12);
    assert_eq!(out[2], 0x80 | (15 << 3), "QR and the opcode only");
    assert_eq!(out[3], 4, "RA, Z, AD, CD clear; NOTIMP");
    // A QUERY keeps RD and CD.
    let mut m = query("www.example.test.", RecordType::A);
    m.metadata.checking_disabled = true;
    let r = ask(&snap, &m);
    assert!(r.metadata.recursion_desired && r.metadata.checking_disabled);
}

// ---- every answer decodes to the zone's data, wherever its RRsets land ----

/// Labels that exercise escapes, a wildcard, and case.
const LABELS: &[&str] = &["a", "b", "www", "x\\.y", "sp\\032c", "_s", "q\\\"d", "x\\200y", "-h"];

fn owner() -> impl Strategy<Value = String> {
    let label = proptest::sample::select(LABELS);
    (proptest::collection::vec(label, 1..3), any::<bool>()).prop_map(|(labels, wild)| {
        let mut n = labels.join(".");
        if wild {
            n = format!("*.{n}");
        }
        format!("{n}.example.test")
    })
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![owner(), Just("out.other.test".to_string()), Just("example.test".to_string())]
}

#[derive(Clone, Debug)]
enum Row {
    A(String, u8),
    Aaaa(String, u8),
    Ns(String, String),
    Cname(String, String),
    Mx(String, String),
    Srv(String, String),
    Txt(String),
}

fn row() -> impl Strategy<Value = Row> {
    prop_oneof![
        3 => (owner(), any::<u8>()).prop_map(|(o, i)| Row::A(o, i)),
        2 => (owner(), any::<u8>()).prop_map(|(o, i)| Row::Aaaa(o, i)),
        1 => (owner(), target()).prop_map(|(o, t)| Row::Ns(o, t)),
        1 => (owner(), target()).prop_map(|(o, t)| Row::Cname(o, t)),
        2 => (owner(), target()).prop_map(|(o, t)| Row::Mx(o, t)),
        1 => (owner(), target()).prop_map(|(o, t)| Row::Srv(o, t)),
        1 => owner().prop_map(Row::Txt),
    ]
}

fn build(rows: &[Row]) -> Zone {
    let mut z = zone(
        "example.test",
        &[("example.test", RType::Ns, 3600, "ns.example.test."), ("ns.example.test", RType::A, 60, "192.0.2.53")],
    );
    for r in rows {
        let (name, data) = match r {
            Row::A(o, i) => (o, RData::A([192, 0, 2, *i].into())),
            Row::Aaaa(o, i) => (o, RData::Aaaa(format!("2001:db8::{i}").parse().unwrap())),
            Row::Ns(o, t) => (o, RData::Ns(fqdn(t))),
            Row::Cname(o, t) => (o, RData::Cname(fqdn(t))),
            Row::Mx(o, t) => (o, RData::Mx { preference: 10, exchange: fqdn(t) }),
            Row::Srv(o, t) => (o, RData::Srv { priority: 1, weight: 2, port: 3, target: fqdn(t) }),
            Row::Txt(o) => (o, RData::Txt(vec![o.as_bytes().to_vec()])),
        };
        let name = fqdn(name);
        let t = data.rtype();
        // One CNAME per name and nothing beside it, as apply keeps it; no NS at a wildcard.
        let node = z.nodes.entry(name.clone()).or_default();
        if (t == RType::Cname && !node.is_empty())
            || node.contains_key(&RType::Cname)
            || (t == RType::Ns && name.is_wildcard())
        {
            continue;
        }
        match node.get_mut(&t) {
            Some(set) => set.add(data),
            None => {
                node.insert(t, RecordSet::new(60, vec![data]));
            }
        }
    }
    z.nodes.retain(|_, n| !n.is_empty());
    z
}

/// Whether `zone` holds (`owner`, `data`) or a wildcard above `owner` does.
fn holds(zone: &Zone, owner: &Fqdn, data: &RData) -> bool {
    let has = |n: &Fqdn| zone.rrset(n, data.rtype()).is_some_and(|s| s.data.contains(data));
    if has(owner) {
        return true;
    }
    let mut up = owner.parent();
    while let Some(p) = up {
        if has(&p.wildcard_child()) && owner != &p {
            return true;
        }
        up = p.parent();
    }
    false
}

fn check_records(zone: &Zone, records: &[Record]) -> Result<(), String> {
    for r in records {
        let owner = Fqdn::from_labels(r.name.iter()).map_err(|e| e.to_string())?;
        if r.record_type() == RecordType::SOA {
            if owner != zone.origin {
                return Err(format!("SOA owned by {owner}"));
            }
            continue;
        }
        let data = from_hickory(&r.data).map_err(|e| e.to_string())?.ok_or("a type we do not serve")?;
        if !holds(zone, &owner, &data) {
            return Err(format!("{owner} {data:?} is not in the zone"));
        }
    }
    Ok(())
}

/// `name` as hickory's, its ASCII letters in the case `seed` picks (0x20 randomisation).
fn hickory_name(name: &Fqdn, seed: u64) -> hickory_proto::rr::Name {
    let wire = name.to_wire();
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    while wire[at] != 0 {
        let len = wire[at] as usize;
        labels.push(wire[at + 1..at + 1 + len].to_vec());
        at += 1 + len;
    }
    let mut i = 0;
    for label in &mut labels {
        for b in label.iter_mut() {
            if (seed >> (i % 64)) & 1 == 1 {
                *b = b.to_ascii_uppercase();
            }
            i += 1;
        }
    }
    hickory_proto::rr::Name::from_labels(labels).expect("a valid name")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_answer_decodes_to_the_zones_data(rows in proptest::collection::vec(row(), 1..24), seed in any::<u64>()) {
        let z = build(&rows);
        let snap = DnsSnapshot::build(&state_of(vec![z.clone()]));
        let mut names: Vec<String> = z.nodes.keys().map(|n| n.to_dotted()).collect();
        // NS, MX, SRV and CNAME targets: asked for themselves they meet their own names in RDATA.
        names.extend(z.records().filter_map(|(_, _, _, d)| match d {
            RData::Ns(t) | RData::Cname(t) | RData::Mx { exchange: t, .. } | RData::Srv { target: t, .. } => Some(t.to_dotted()),
            _ => None,
        }));
        names.extend(z.nodes.keys().map(|n| format!("q.{}", n.to_dotted()).replace("q.*.", "q.r.")));
        for name in names {
            let qname = hickory_name(&fqdn(&name), seed);
            for t in [RecordType::A, RecordType::AAAA, RecordType::NS, RecordType::MX, RecordType::SRV, RecordType::TXT, RecordType::CNAME, RecordType::SOA, RecordType::ANY] {
                for (edns, ctx, limit) in [(None, QueryContext::udp(), 512), (Some(1232), QueryContext::udp(), 1232), (None, QueryContext::tcp(), 65535)] {
                    let mut m = Message::new(7, hickory_proto::op::MessageType::Query, hickory_proto::op::OpCode::Query);
                    m.add_query(hickory_proto::op::Query::query(qname.clone(), t));
                    if let Some(p) = edns {
                        m = with_edns(m, p, 0);
                    }
                    let out = answer(&snap, &bytes(&m), &ctx).expect("an answer");
                    prop_assert!(out.len() <= limit, "{name} {t}: {} > {limit}", out.len());
                    let r = Message::from_vec(&out).map_err(|e| TestCaseError::fail(format!("{name} {t}: {e}")))?;
                    prop_assert!(r.metadata.response_code != ResponseCode::ServFail);
                    for section in [&r.answers, &r.authorities, &r.additionals] {
                        check_records(&z, section).map_err(|e| TestCaseError::fail(format!("{name} {t} {ctx:?}: {e}")))?;
                    }
                    if !r.metadata.truncation && !r.metadata.authoritative {
                        // A referral carries every in-domain glue address (RFC 9471).
                        for ns in r.authorities.iter().filter(|x| x.record_type() == RecordType::NS) {
                            let cut = Fqdn::from_labels(ns.name.iter()).unwrap();
                            let Some(RData::Ns(target)) = from_hickory(&ns.data).unwrap() else { continue };
                            if !target.is_in(&cut) {
                                continue;
                            }
                            for gt in [RType::A, RType::Aaaa] {
                                let want = z.rrset(&target, gt).map_or(0, |s| s.data.len());
                                let got = r.additionals.iter().filter(|a| {
                                    Fqdn::from_labels(a.name.iter()).ok().as_ref() == Some(&target)
                                        && u16::from(a.record_type()) == gt.code()
                                }).count();
                                prop_assert_eq!(got, want, "{} {} glue of {} in {}", name, t, target, cut);
                            }
                        }
                    }
                }
            }
        }
    }
}
