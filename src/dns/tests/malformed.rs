//! Hostile and broken packets: FORMERR or silence, never a panic.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use proptest::prelude::*;

use super::*;

fn raw(snap: &DnsSnapshot, packet: &[u8]) -> Option<Message> {
    answer(snap, packet, &QueryContext::udp()).map(|out| Message::from_vec(&out).expect("response decodes"))
}

fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0xab, 0xcd, 0x01, 0x00];
    for c in [qd, an, ns, ar] {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

const QUESTION: &[u8] = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01";

fn assert_formerr(snap: &DnsSnapshot, packet: &[u8]) {
    let m = raw(snap, packet).expect("FORMERR, not a drop");
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr, "{packet:?}");
    assert_eq!(m.metadata.id, 0xabcd);
    assert!(m.answers.is_empty());
}

#[test]
fn packets_shorter_than_a_header_are_dropped() {
    let snap = example_snapshot();
    for len in 0..12 {
        assert!(answer(&snap, &header(1, 0, 0, 0)[..len], &QueryContext::udp()).is_none());
    }
}

#[test]
fn responses_are_never_answered() {
    let snap = example_snapshot();
    let mut p = [header(1, 0, 0, 0), QUESTION.to_vec()].concat();
    p[2] |= 0x80;
    assert!(answer(&snap, &p, &QueryContext::udp()).is_none());
}

#[test]
fn question_count_other_than_one_is_formerr() {
    let snap = example_snapshot();
    assert_formerr(&snap, &header(0, 0, 0, 0));
    assert_formerr(&snap, &[header(2, 0, 0, 0), QUESTION.to_vec(), QUESTION.to_vec()].concat());
}

#[test]
fn compression_in_the_question_is_formerr() {
    let snap = example_snapshot();
    // A pointer to itself (a loop) and a pointer back into the header.
    assert_formerr(&snap, &[header(1, 0, 0, 0), b"\xc0\x0c\x00\x01\x00\x01".to_vec()].concat());
    assert_formerr(&snap, &[header(1, 0, 0, 0), b"\x03www\xc0\x02\x00\x01\x00\x01".to_vec()].concat());
}

#[test]
fn junk_after_the_question_is_formerr() {
    let snap = example_snapshot();
    let m = raw(&snap, &[header(1, 0, 0, 0), QUESTION.to_vec(), vec![0xde, 0xad]].concat()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(m.queries.len(), 1, "the question that did parse is echoed");
}

#[test]
fn answer_records_in_a_query_are_formerr() {
    let snap = example_snapshot();
    let rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01";
    assert_formerr(&snap, &[header(1, 1, 0, 0), QUESTION.to_vec(), rr.to_vec()].concat());
}

#[test]
fn garbage_opt_is_formerr() {
    let snap = example_snapshot();
    // RDLENGTH beyond the packet.
    let opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x20";
    assert_formerr(&snap, &[header(1, 0, 0, 1), QUESTION.to_vec(), opt.to_vec()].concat());
    // OPT owned by a name other than the root.
    let opt = b"\x01a\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";
    assert_formerr(&snap, &[header(1, 0, 0, 1), QUESTION.to_vec(), opt.to_vec()].concat());
    // Option header cut short inside RDATA.
    let opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x02\x00\x0a";
    assert_formerr(&snap, &[header(1, 0, 0, 1), QUESTION.to_vec(), opt.to_vec()].concat());
}

#[test]
fn a_non_opt_additional_record_is_skipped() {
    let snap = example_snapshot();
    // Stand-in for a TSIG RR (type 250) with a compressed owner name.
    let rr = b"\xc0\x0c\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x03abc";
    let m = raw(&snap, &[header(1, 0, 0, 1), QUESTION.to_vec(), rr.to_vec()].concat()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
}

/// Structural checks our responses must pass whatever the query.
fn check_response(query: &[u8], out: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(out.len() >= 12);
    prop_assert_eq!(&out[..2], &query[..2], "ID echoed");
    prop_assert!(out[2] & 0x80 != 0, "QR set");
    prop_assert!(out.len() <= 1232, "UDP answer within the largest UDP limit");
    let m = Message::from_vec(out);
    prop_assert!(m.is_ok(), "response decodes: {:?}", m.err());
    Ok(())
}

fn valid_queries() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "www.example.test.",
        "big.example.test.",
        "loop1.example.test.",
        "x.wild.example.test.",
        "host.deleg.example.test.",
        "example.test.",
        "nope.example.test.",
        "example.org.",
    ]);
    let types = prop::sample::select(vec![
        RecordType::A,
        RecordType::NS,
        RecordType::TXT,
        RecordType::ANY,
        RecordType::SOA,
        RecordType::MX,
    ]);
    (names, types, any::<bool>(), any::<u16>()).prop_map(|(n, t, edns, size)| {
        let q = query(n, t);
        bytes(&if edns { with_edns(q, size, 0) } else { q })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(packet in prop::collection::vec(any::<u8>(), 0..600)) {
        let snap = example_snapshot();
        if let Some(out) = answer(&snap, &packet, &QueryContext::udp()) {
            check_response(&packet, &out)?;
        }
    }

    #[test]
    fn mutated_queries_never_panic(
        query in valid_queries(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let snap = example_snapshot();
        let mut packet = query;
        for (at, byte) in edits {
            let i = at.index(packet.len());
            packet[i] = byte;
        }
        if do_cut {
            packet.truncate(cut.index(packet.len() + 1));
        }
        if let Some(out) = answer(&snap, &packet, &QueryContext::udp()) {
            check_response(&packet, &out)?;
        }
    }

    #[test]
    fn valid_queries_always_get_a_decodable_answer(query in valid_queries()) {
        let snap = example_snapshot();
        let out = answer(&snap, &query, &QueryContext::udp());
        prop_assert!(out.is_some());
        check_response(&query, &out.unwrap_or_default())?;
    }
}
