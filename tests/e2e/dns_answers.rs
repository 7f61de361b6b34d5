//! A real DNS client (dig) against the real binary: the answers authoritative servers owe.

use crate::support::{add, Node, Rcode, ZONE};

async fn populated() -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    add(&node, "www", "A", &["192.0.2.1", "192.0.2.2"]).await;
    add(&node, "www", "AAAA", &["2001:db8::1"]).await;
    add(&node, "txt", "TXT", &["\"hello world\""]).await;
    add(&node, "@", "MX", &["10 mail.dyn.example.test."]).await;
    add(&node, "mail", "A", &["192.0.2.25"]).await;
    add(&node, "*.wild", "A", &["192.0.2.9"]).await;
    add(&node, "alias", "CNAME", &["www.dyn.example.test."]).await;
    add(&node, "a.b.ent", "A", &["192.0.2.7"]).await;
    add(&node, "_sip._tcp", "SRV", &["10 5 5060 sip.dyn.example.test."]).await;
    add(&node, "@", "CAA", &["0 issue \"letsencrypt.org\""]).await;
    let big: Vec<String> = (0..20).map(|i| format!("\"{i:02}{}\"", "x".repeat(198))).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    add(&node, "big", "TXT", &big).await;
    (dir, node)
}

#[tokio::test]
async fn positive_answers_are_authoritative_for_every_type() {
    let (_d, node) = populated().await;
    let soa = node.dig(&[ZONE, "SOA"]);
    assert_eq!(soa.rcode, Rcode::NoError);
    assert!(soa.flags.aa, "{}", soa.raw);
    assert!(soa.answer[0].data.starts_with("ns1.dyn.example.test. hostmaster.dyn.example.test."), "{}", soa.raw);

    let ns = node.dig(&[ZONE, "NS"]);
    assert_eq!(ns.answer_data("NS"), vec!["ns1.dyn.example.test."]);
    assert!(
        ns.additional.iter().any(|r| r.name == "ns1.dyn.example.test." && r.data == "127.0.0.1"),
        "glue: {}",
        ns.raw
    );

    let a = node.dig(&["www.dyn.example.test", "A"]);
    assert!(a.flags.aa);
    assert_eq!(a.answer_data("A"), vec!["192.0.2.1", "192.0.2.2"]);
    assert_eq!(a.answer[0].ttl, 300);
    assert_eq!(node.dig(&["www.dyn.example.test", "AAAA"]).answer_data("AAAA"), vec!["2001:db8::1"]);
    assert_eq!(node.dig(&["txt.dyn.example.test", "TXT"]).answer_data("TXT"), vec!["\"hello world\""]);
    assert_eq!(node.dig(&[ZONE, "MX"]).answer_data("MX"), vec!["10 mail.dyn.example.test."]);
    assert_eq!(
        node.dig(&["_sip._tcp.dyn.example.test", "SRV"]).answer_data("SRV"),
        vec!["10 5 5060 sip.dyn.example.test."]
    );
    assert_eq!(node.dig(&[ZONE, "CAA"]).answer_data("CAA"), vec!["0 issue \"letsencrypt.org\""]);
    // Case is echoed as asked (0x20) and matching ignores it.
    let mixed = node.dig(&["WwW.DyN.example.TEST", "A"]);
    assert_eq!(mixed.answer_data("A"), vec!["192.0.2.1", "192.0.2.2"]);
    assert!(mixed.raw.contains("WwW.DyN.example.TEST."), "{}", mixed.raw);
}

#[tokio::test]
async fn negative_answers_carry_the_soa() {
    let (_d, node) = populated().await;
    let nx = node.dig(&["nope.dyn.example.test", "A"]);
    assert_eq!(nx.rcode, Rcode::NxDomain);
    assert!(nx.flags.aa);
    assert!(nx.answer.is_empty());
    assert_eq!(nx.authority.len(), 1);
    assert_eq!(nx.authority[0].rtype, "SOA");
    assert_eq!(nx.authority[0].ttl, 60, "negative TTL is min(SOA TTL, minimum): {}", nx.raw);

    let nodata = node.dig(&["www.dyn.example.test", "MX"]);
    assert_eq!(nodata.rcode, Rcode::NoError);
    assert!(nodata.answer.is_empty());
    assert_eq!(nodata.authority[0].rtype, "SOA");

    // An empty non-terminal exists: NODATA, not NXDOMAIN.
    let ent = node.dig(&["b.ent.dyn.example.test", "A"]);
    assert_eq!(ent.rcode, Rcode::NoError, "{}", ent.raw);
    assert!(ent.answer.is_empty());
}

#[tokio::test]
async fn wildcards_cnames_and_foreign_names() {
    let (_d, node) = populated().await;
    let w = node.dig(&["anything.wild.dyn.example.test", "A"]);
    assert_eq!(w.rcode, Rcode::NoError);
    assert_eq!(w.answer[0].name, "anything.wild.dyn.example.test.", "synthesised owner: {}", w.raw);
    assert_eq!(w.answer_data("A"), vec!["192.0.2.9"]);
    let deep = node.dig(&["x.y.wild.dyn.example.test", "A"]);
    assert_eq!(deep.answer_data("A"), vec!["192.0.2.9"]);
    let w_nodata = node.dig(&["anything.wild.dyn.example.test", "AAAA"]);
    assert_eq!(w_nodata.rcode, Rcode::NoError);
    assert!(w_nodata.answer.is_empty());

    let c = node.dig(&["alias.dyn.example.test", "A"]);
    assert_eq!(c.answer_data("CNAME"), vec!["www.dyn.example.test."]);
    assert_eq!(c.answer_data("A"), vec!["192.0.2.1", "192.0.2.2"], "CNAME chased in zone: {}", c.raw);

    let refused = node.dig(&["example.com", "A"]);
    assert_eq!(refused.rcode, Rcode::Refused);
    assert!(!refused.flags.aa);
}

#[tokio::test]
async fn large_answers_truncate_over_udp_and_complete_over_tcp() {
    let (_d, node) = populated().await;
    let udp = node.dig(&["+ignore", "+bufsize=1232", "big.dyn.example.test", "TXT"]);
    assert!(udp.flags.tc, "{}", udp.raw);
    assert!(udp.answer.is_empty());
    assert!(udp.raw.contains("udp: 1232"), "OPT kept in the truncated answer: {}", udp.raw);
    let tcp = node.dig(&["+tcp", "big.dyn.example.test", "TXT"]);
    assert!(!tcp.flags.tc);
    assert_eq!(tcp.answer.len(), 20, "all 20 TXT records over TCP: {}", tcp.raw);
    // dig's default retries over TCP on TC, so a plain query gets everything.
    assert_eq!(node.dig(&["big.dyn.example.test", "TXT"]).answer.len(), 20);
}

#[tokio::test]
async fn edns_versions_above_zero_get_badvers() {
    let (_d, node) = populated().await;
    let d = node.dig(&["+edns=1", "+noednsneg", "www.dyn.example.test", "A"]);
    assert_eq!(d.rcode, Rcode::BadVers, "{}", d.raw);
    assert!(d.raw.contains("EDNS: version: 0"), "{}", d.raw);
    assert!(d.answer.is_empty());
    let plain = node.dig(&["+noedns", "www.dyn.example.test", "A"]);
    assert_eq!(plain.rcode, Rcode::NoError);
    assert!(!plain.raw.contains("OPT PSEUDOSECTION"), "no OPT without EDNS: {}", plain.raw);
}
