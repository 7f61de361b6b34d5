//! RFC 8906 / DNS flag day probes against the real binary with dig, each over UDP and
//! TCP, asserting rcode, flags and the OPT record; NSID; DNS cookies on one node.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::{eventually_every, Dig, Flags, Node, NodeConfig, Rcode, ZONE};

fn probe(node: &Node, tcp: bool, args: &[&str]) -> Dig {
    let mut a: Vec<&str> = args.to_vec();
    a.push(if tcp { "+tcp" } else { "+notcp" });
    a.push("+nocookie");
    node.dig(&a)
}

#[tokio::test]
async fn rfc8906_probes_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| c.dns.nsid = Some("node-a".into())));
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
        assert_eq!((&d.rcode, &d.flags), (&Rcode::NoError, &Flags::parse("qr aa")), "{t} plain\n{}", d.raw);
        assert_eq!(d.edns(), None, "{t} plain: no OPT\n{}", d.raw);
        // EDNS(0): OPT version 0, our 1232-octet size, no flags.
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0", "+bufsize=4096"]);
        assert_eq!(d.rcode, Rcode::NoError, "{t} edns\n{}", d.raw);
        assert_eq!(d.edns().as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "{t} edns\n{}", d.raw);
        // Unknown option: ignored, not echoed.
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0", "+ednsopt=65001:abcdef"]);
        assert_eq!(d.rcode, Rcode::NoError, "{t} unknown option\n{}", d.raw);
        let opt: Vec<&str> = d
            .raw
            .lines()
            .skip_while(|l| !l.starts_with(";; OPT PSEUDOSECTION"))
            .take_while(|l| !l.starts_with(";; QUESTION"))
            .collect();
        assert_eq!(opt.len(), 2, "{t} only the EDNS line, no option echoed\n{}", d.raw);
        // Unknown EDNS flag: ignored, not echoed (dig shows echoed MBZ bits).
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0", "+ednsflags=0x0080"]);
        assert_eq!(d.rcode, Rcode::NoError, "{t} unknown flag\n{}", d.raw);
        assert_eq!(d.edns().as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "{t} unknown flag\n{}", d.raw);
        // EDNS version 1: BADVERS with an OPT of version 0, no answer.
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=1", "+noednsneg"]);
        assert_eq!(d.rcode, Rcode::BadVers, "{t} edns1\n{}", d.raw);
        assert_eq!(d.edns().as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "{t} edns1\n{}", d.raw);
        assert!(d.answer.is_empty(), "{t} edns1\n{}", d.raw);
        // Unknown opcode: NOTIMP, OPT kept because the query had one; without OPT, none.
        let d = probe(&node, tcp, &[soa, "SOA", "+opcode=15", "+edns=0"]);
        assert_eq!(d.rcode, Rcode::NotImp, "{t} opcode\n{}", d.raw);
        assert!(d.edns().is_some(), "{t} opcode: OPT expected\n{}", d.raw);
        assert!(!d.flags.aa, "{t} opcode\n{}", d.raw);
        let d = probe(&node, tcp, &[soa, "SOA", "+opcode=15", "+noedns"]);
        assert_eq!((&d.rcode, d.edns()), (&Rcode::NotImp, None), "{t} opcode plain\n{}", d.raw);
        // Every header flag set (genreport `opcodeflg`): none of RD, CD, AD, AA, Z comes back.
        let all_flags = ["+opcode=15", "+noedns", "+header-only", "+rec", "+cdflag", "+adflag", "+aaflag", "+zflag"];
        let d = probe(&node, tcp, &[&[soa, "SOA"][..], &all_flags].concat());
        assert_eq!((&d.rcode, &d.flags), (&Rcode::NotImp, &Flags::parse("qr")), "{t} opcode flags\n{}", d.raw);
        // Unknown type: NODATA (NOERROR, SOA in authority).
        let d = probe(&node, tcp, &[soa, "TYPE65000", "+edns=0"]);
        assert_eq!((&d.rcode, &d.flags), (&Rcode::NoError, &Flags::parse("qr aa")), "{t} unknown type\n{}", d.raw);
        assert!(d.answer.is_empty() && d.authority.iter().any(|r| r.rtype == "SOA"), "{t} unknown type\n{}", d.raw);
        // DO bit: echoed (RFC 3225), answer without signatures.
        let d = probe(&node, tcp, &[soa, "SOA", "+dnssec"]);
        assert_eq!(d.rcode, Rcode::NoError, "{t} do\n{}", d.raw);
        assert_eq!(d.edns().as_deref(), Some("; EDNS: version: 0, flags: do; udp: 1232"), "{t} do\n{}", d.raw);
        assert!(!d.raw.contains("RRSIG") && !d.flags.ad, "{t} do\n{}", d.raw);
        // NSID when asked, and only then.
        let d = probe(&node, tcp, &[soa, "SOA", "+nsid"]);
        assert!(d.opt_line("; NSID:").is_some_and(|l| l.contains("(\"node-a\")")), "{t} nsid\n{}", d.raw);
        let d = probe(&node, tcp, &[soa, "SOA", "+edns=0"]);
        assert!(d.opt_line("; NSID:").is_none(), "{t} nsid unasked\n{}", d.raw);
        // EXPIRE (RFC 7314): a primary sends the SOA's expire for the zone's SOA, if asked.
        let d = probe(&node, tcp, &[soa, "SOA", "+expire"]);
        assert!(d.opt_line("; EXPIRE:").is_some_and(|l| l.contains("1209600")), "{t} expire\n{}", d.raw);
        let d = probe(&node, tcp, &[&format!("ns1.{soa}"), "A", "+expire"]);
        assert!(d.opt_line("; EXPIRE:").is_none(), "{t} expire for another type\n{}", d.raw);
        // ANY: one RRset (RFC 8482).
        let d = probe(&node, tcp, &[soa, "ANY", "+edns=0"]);
        assert_eq!((&d.rcode, d.answer.len()), (&Rcode::NoError, 1), "{t} any\n{}", d.raw);
        // A large answer: TC with the OPT intact over UDP; complete over TCP.
        let d = probe(&node, tcp, &[&big_name, "TXT", "+edns=0", "+ignore", "+nsid"]);
        if tcp {
            assert_eq!((&d.rcode, d.answer.len(), d.flags.tc), (&Rcode::NoError, 12, false), "tcp big\n{}", d.raw);
        } else {
            assert!(d.flags.tc && d.answer.is_empty(), "udp big: TC expected\n{}", d.raw);
            assert_eq!(d.edns().as_deref(), Some("; EDNS: version: 0, flags:; udp: 1232"), "udp big\n{}", d.raw);
            assert!(d.opt_line("; NSID:").is_some(), "udp big: options kept\n{}", d.raw);
        }
    }
}

#[tokio::test]
async fn cookies_on_one_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    let client = "0102030405060708";
    // The secret is proposed right after bootstrap; wait for the first server cookie.
    let what = "a server cookie (client cookie 8 + server cookie 16 octets)";
    let full = eventually_every(what, Duration::from_secs(10), Duration::from_millis(100), async || {
        let d = node.dig(&[ZONE, "SOA", &format!("+cookie={client}"), "+nobadcookie"]);
        let c = d.cookie().filter(|c| c.len() == 48)?;
        assert_eq!(d.rcode, Rcode::NoError, "{}", d.raw);
        Some(c)
    })
    .await;
    assert!(full.starts_with(client), "client cookie echoed: {full}");
    assert_eq!(&full[16..24], "01000000", "RFC 9018 version 1, reserved 0: {full}");
    // Sending it back: valid (dig marks it "good"), over UDP and TCP.
    for transport in ["+notcp", "+tcp"] {
        let d = node.dig(&[ZONE, "SOA", &format!("+cookie={full}"), transport, "+nobadcookie"]);
        assert_eq!(d.rcode, Rcode::NoError, "{}", d.raw);
        assert!(d.cookie_is_good(), "{transport}\n{}", d.raw);
    }
    // A bad server cookie (RFC 7873 5.2.4 -> 5.2.3): normal answer with a fresh, valid cookie.
    let bad = format!("{client}01000000{}", "ab".repeat(12));
    let d = node.dig(&[ZONE, "SOA", &format!("+cookie={bad}"), "+nobadcookie"]);
    assert_eq!(d.rcode, Rcode::NoError, "{}", d.raw);
    let fresh = d.cookie().expect("a fresh cookie");
    assert_ne!(fresh, bad);
    assert!(fresh.starts_with(client));
    // A malformed cookie option (client cookie of 5 octets): FORMERR (RFC 7873 5.2.2).
    let d = node.dig(&[ZONE, "SOA", "+ednsopt=10:0102030405", "+nocookie", "+nobadcookie"]);
    assert_eq!(d.rcode, Rcode::FormErr, "{}", d.raw);
}
