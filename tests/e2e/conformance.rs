//! RFC 8906 / DNS flag day probes against the real binary with dig, each over UDP and
//! TCP, asserting rcode, flags and the OPT record; NSID; DNS cookies on one node.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Dig, Node, ZONE};

/// The `; EDNS: ...` line of dig's OPT pseudo-section, if the response had an OPT.
fn edns(d: &Dig) -> Option<String> {
    d.raw.lines().find(|l| l.starts_with("; EDNS:")).map(str::to_string)
}

fn opt_line(d: &Dig, prefix: &str) -> Option<String> {
    d.raw.lines().find(|l| l.starts_with(prefix)).map(str::to_string)
}

fn flags(d: &Dig) -> String {
    let mut f = d.flags.clone();
    f.sort();
    f.join(" ")
}

fn probe(node: &Node, tcp: bool, args: &[&str]) -> Dig {
    let mut a: Vec<&str> = args.to_vec();
    a.push(if tcp { "+tcp" } else { "+notcp" });
    a.push("+nocookie");
    node.dig(&a)
}

const NSID_NODE: &str = "[dns]\nnsid = \"node-a\"\n";

#[tokio::test]
async fn rfc8906_probes_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with_config(dir.path(), NSID_NODE);
    let soa = ZONE;
    let big: Vec<String> = (0..12).map(|i| format!("\"{i}{}\"", "x".repeat(200))).collect();
    let (s, b) = node
        .api(
            Method::POST,
            &format!("/api/v1/zones/{ZONE}/records"),
            Some(json!({"name": "big", "type": "TXT", "ttl": 300, "data": big})),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {b}");
    let big_name = format!("big.{ZONE}");
    for tcp in [false, true] {
        let t = if tcp { "tcp" } else { "udp" };
        // Plain DNS: no OPT in, none out.
        let d = probe(&node, tcp, &[soa, "SOA", "+noedns"]);
        assert_eq!((d.status.as_str(), flags(&d).as_str()), ("NOERROR", "aa qr"), "{t} plain\n{}", d.raw);
        assert_eq!(edns(&d), None, "{t} plain: no OPT\n{}", d.raw);
        // EDNS(0): OPT version 0, our 1232-octet size, no flags.
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0", "+bufsize=4096"]);
        assert_eq!(d.status, "NOERROR", "{t} edns\n{}", d.raw);
        assert_eq!(edns(&d).as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "{t} edns\n{}", d.raw);
        // Unknown option: ignored, not echoed.
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0", "+ednsopt=65001:abcdef"]);
        assert_eq!(d.status, "NOERROR", "{t} unknown option\n{}", d.raw);
        let opt: Vec<&str> = d
            .raw
            .lines()
            .skip_while(|l| !l.starts_with(";; OPT PSEUDOSECTION"))
            .take_while(|l| !l.starts_with(";; QUESTION"))
            .collect();
        assert_eq!(opt.len(), 2, "{t} only the EDNS line, no option echoed\n{}", d.raw);
        // Unknown EDNS flag: ignored, not echoed (dig shows echoed MBZ bits).
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0", "+ednsflags=0x0080"]);
        assert_eq!(d.status, "NOERROR", "{t} unknown flag\n{}", d.raw);
        assert_eq!(edns(&d).as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "{t} unknown flag\n{}", d.raw);
        // EDNS version 1: BADVERS with an OPT of version 0, no answer.
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=1", "+noednsneg"]);
        assert_eq!(d.status, "BADVERS", "{t} edns1\n{}", d.raw);
        assert_eq!(edns(&d).as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "{t} edns1\n{}", d.raw);
        assert!(d.answer.is_empty(), "{t} edns1\n{}", d.raw);
        // Unknown opcode: NOTIMP, OPT kept because the query had one; without OPT, none.
        let d = probe(&node, tcp, &[soa, "SOA", "+opcode=15", "+edns=0"]);
        assert_eq!(d.status, "NOTIMP", "{t} opcode\n{}", d.raw);
        assert!(edns(&d).is_some(), "{t} opcode: OPT expected\n{}", d.raw);
        assert!(!d.has_flag("aa"), "{t} opcode\n{}", d.raw);
        let d = probe(&node, tcp, &[soa, "SOA", "+opcode=15", "+noedns"]);
        assert_eq!((d.status.as_str(), edns(&d)), ("NOTIMP", None), "{t} opcode plain\n{}", d.raw);
        // Unknown type: NODATA (NOERROR, SOA in authority).
        let d = probe(&node, tcp, &[soa, "TYPE65000", "+edns=0"]);
        assert_eq!((d.status.as_str(), flags(&d).as_str()), ("NOERROR", "aa qr"), "{t} unknown type\n{}", d.raw);
        assert!(d.answer.is_empty() && d.authority.iter().any(|r| r.rtype == "SOA"), "{t} unknown type\n{}", d.raw);
        // DO bit: echoed (RFC 3225), answer without signatures.
        let d = probe(&node, tcp, &[soa, "SOA", "+dnssec"]);
        assert_eq!(d.status, "NOERROR", "{t} do\n{}", d.raw);
        assert_eq!(edns(&d).as_deref(), Some("; EDNS: version: 0, flags: do; udp: 1232"), "{t} do\n{}", d.raw);
        assert!(!d.raw.contains("RRSIG") && !d.has_flag("ad"), "{t} do\n{}", d.raw);
        // NSID when asked, and only then.
        let d = probe(&node, tcp, &[soa, "SOA", "+nsid"]);
        assert!(opt_line(&d, "; NSID:").is_some_and(|l| l.contains("(\"node-a\")")), "{t} nsid\n{}", d.raw);
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0"]);
        assert!(opt_line(&d, "; NSID:").is_none(), "{t} nsid unasked\n{}", d.raw);
        // ANY: one RRset (RFC 8482).
        let d = probe(&node, tcp, &[soa, "ANY", "+edns=0"]);
        assert_eq!((d.status.as_str(), d.answer.len()), ("NOERROR", 1), "{t} any\n{}", d.raw);
        // A large answer: TC with the OPT intact over UDP; complete over TCP.
        let d = probe(&node, tcp, &[&big_name, "TXT", "+edns=0", "+ignore", "+nsid"]);
        if tcp {
            assert_eq!(
                (d.status.as_str(), d.answer.len(), d.has_flag("tc")),
                ("NOERROR", 12, false),
                "tcp big\n{}",
                d.raw
            );
        } else {
            assert!(d.has_flag("tc") && d.answer.is_empty(), "udp big: TC expected\n{}", d.raw);
            assert_eq!(edns(&d).as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "udp big\n{}", d.raw);
            assert!(opt_line(&d, "; NSID:").is_some(), "udp big: options kept\n{}", d.raw);
        }
    }
}

/// The hex of the COOKIE option dig printed, if any.
pub(crate) fn cookie(d: &Dig) -> Option<String> {
    let line = opt_line(d, "; COOKIE: ")?;
    Some(line["; COOKIE: ".len()..].split_whitespace().next()?.to_string())
}

#[tokio::test]
async fn cookies_on_one_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = "0102030405060708";
    // The secret is proposed right after bootstrap; wait for the first server cookie.
    let mut got = None;
    for _ in 0..100 {
        let d = node.dig(&[ZONE, "SOA", &format!("+cookie={client}"), "+nobadcookie"]);
        if let Some(c) = cookie(&d).filter(|c| c.len() == 48) {
            assert_eq!(d.status, "NOERROR", "{}", d.raw);
            got = Some(c);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let full = got.expect("a server cookie (client cookie 8 + server cookie 16 octets)");
    assert!(full.starts_with(client), "client cookie echoed: {full}");
    assert_eq!(&full[16..24], "01000000", "RFC 9018 version 1, reserved 0: {full}");
    // Sending it back: valid (dig marks it "good"), over UDP and TCP.
    for transport in ["+notcp", "+tcp"] {
        let d = node.dig(&[ZONE, "SOA", &format!("+cookie={full}"), transport, "+nobadcookie"]);
        assert_eq!(d.status, "NOERROR", "{}", d.raw);
        assert!(opt_line(&d, "; COOKIE: ").is_some_and(|l| l.contains("(good)")), "{transport}\n{}", d.raw);
    }
    // A bad server cookie (RFC 7873 5.2.4 -> 5.2.3): normal answer with a fresh, valid cookie.
    let bad = format!("{client}01000000{}", "ab".repeat(12));
    let d = node.dig(&[ZONE, "SOA", &format!("+cookie={bad}"), "+nobadcookie"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    let fresh = cookie(&d).expect("a fresh cookie");
    assert_ne!(fresh, bad);
    assert!(fresh.starts_with(client));
    // A malformed cookie option (client cookie of 5 octets): FORMERR (RFC 7873 5.2.2).
    let d = node.dig(&[ZONE, "SOA", "+ednsopt=10:0102030405", "+nocookie", "+nobadcookie"]);
    assert_eq!(d.status, "FORMERR", "{}", d.raw);
}
