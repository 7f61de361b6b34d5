//! A fixed state with a few zones for the fuzz targets (fuzz/) and the regression tests
//! of what they find: delegation with glue, wildcards, CNAME chains and loops, a large
//! RRset that truncates over UDP, and a second zone.

use crate::model::{Fqdn, RData, RType, RecordSet, Serial, SoaParams, Zone};
use crate::state::State;

const ROWS: &[(&str, &str, RType, &str)] = &[
    ("example.test", "example.test", RType::Ns, "ns1.example.test."),
    ("example.test", "example.test", RType::Mx, "10 mail.example.test."),
    ("example.test", "ns1.example.test", RType::A, "192.0.2.53"),
    ("example.test", "ns1.example.test", RType::Aaaa, "2001:db8::53"),
    ("example.test", "www.example.test", RType::A, "192.0.2.1"),
    ("example.test", "*.wild.example.test", RType::A, "192.0.2.99"),
    ("example.test", "*.wc.example.test", RType::Cname, "www.example.test."),
    ("example.test", "alias.example.test", RType::Cname, "www.example.test."),
    ("example.test", "loop1.example.test", RType::Cname, "loop2.example.test."),
    ("example.test", "loop2.example.test", RType::Cname, "loop1.example.test."),
    ("example.test", "deleg.example.test", RType::Ns, "ns.deleg.example.test."),
    ("example.test", "ns.deleg.example.test", RType::A, "192.0.2.100"),
    ("example.test", "_sip._tcp.example.test", RType::Srv, "1 2 5060 www.example.test."),
    ("dyn.example.org", "dyn.example.org", RType::Ns, "ns1.example.test."),
    ("dyn.example.org", "h.dyn.example.org", RType::A, "198.51.100.7"),
    ("dyn.example.org", "h.dyn.example.org", RType::Aaaa, "2001:db8::7"),
];

/// The fuzzing state. Panics only on a bug in the fixed data above.
pub fn state() -> State {
    let mut state = State::default();
    for origin in ["example.test", "dyn.example.org"] {
        let origin = Fqdn::parse(origin).expect("fixed name");
        let mut zone = Zone::new(origin.clone(), SoaParams::defaults_for(&origin), Serial(1));
        for (z, name, t, data) in ROWS.iter().filter(|r| Fqdn::parse(r.0).ok().as_ref() == Some(&origin)) {
            let _ = z;
            let name = Fqdn::parse(name).expect("fixed name");
            let rdata = RData::parse(*t, data).expect("fixed rdata");
            let sets = zone.nodes.entry(name).or_default();
            match sets.get_mut(t) {
                Some(set) => set.data.push(rdata),
                None => {
                    sets.insert(*t, RecordSet::new(300, vec![rdata]));
                }
            }
        }
        let big = Fqdn::parse("big.example.test").expect("fixed name");
        if origin.to_dotted().starts_with("example.test") {
            let txt: Vec<RData> = (0..20)
                .map(|i| RData::parse(RType::Txt, &format!("\"{i}{}\"", "x".repeat(200))).expect("fixed txt"))
                .collect();
            zone.nodes.entry(big).or_default().insert(RType::Txt, RecordSet::new(300, txt));
        }
        state.zones.insert(origin, zone);
    }
    state
}

/// Runs one input the way the `dns_answer` fuzz target does, checking its invariants.
/// Used by the regression tests below on every file in fuzz/regressions/dns_answer/
/// and fuzz/seeds/dns_answer/.
pub fn check_dns_input(
    snapshot: &crate::dns::DnsSnapshot,
    policy: &crate::dns::edns::EdnsPolicy,
    data: &[u8],
) -> Result<(), String> {
    use crate::dns::{answer, QueryContext, Slip, Transport};
    let ip: std::net::IpAddr = std::net::Ipv4Addr::new(192, 0, 2, 1).into();
    for ctx in [QueryContext::udp(), QueryContext::tcp()] {
        for slip in [None, Some(Slip::Truncate), Some(Slip::BadCookie)] {
            let ctx = QueryContext { slip, ..ctx.with_policy(ip, policy) };
            let Some(out) = answer(snapshot, data, &ctx) else { continue };
            if out.len() < 12 || out[..2] != data[..2] || out[2] & 0x80 == 0 {
                return Err(format!("bad header {:?}", &out[..out.len().min(12)]));
            }
            if ctx.transport == Transport::Udp && out.len() > 1232 {
                return Err(format!("UDP response of {} octets", out.len()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dns::cookie::CookieKeys;
    use crate::dns::edns::EdnsPolicy;
    use crate::model::cookie::CookieSecrets;

    fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let Ok(entries) = std::fs::read_dir(path) else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| Some((e.path().display().to_string(), std::fs::read(e.path()).ok()?)))
            .collect()
    }

    #[test]
    fn fuzz_seeds_and_regressions_replay_cleanly() {
        let snapshot = crate::dns::DnsSnapshot::build(&state());
        let keys = Arc::new(CookieKeys::new(CookieSecrets { current: Some([7; 16]), previous: None, set_at: 0 }));
        let policy = EdnsPolicy { nsid: Some(b"fuzz-node".to_vec()), cookies: Some(keys), require_cookies: true };
        let mut n = 0;
        for dir in ["fuzz/seeds/dns_answer", "fuzz/regressions/dns_answer"] {
            for (name, data) in inputs(dir) {
                check_dns_input(&snapshot, &policy, &data).unwrap_or_else(|e| panic!("{name}: {e}"));
                n += 1;
            }
        }
        assert!(n >= 10, "seed corpus present");
        for dir in ["fuzz/seeds/zonefile", "fuzz/regressions/zonefile"] {
            for (_, data) in inputs(dir) {
                let origin = crate::model::Fqdn::parse("example.test").expect("name");
                let _ = crate::model::zonefile::parse(&String::from_utf8_lossy(&data), &origin);
            }
        }
        for dir in ["fuzz/regressions/raft_rpc"] {
            for (_, data) in inputs(dir) {
                let _ = crate::codec::decode::<crate::raft::Request>(&data);
                let _ = crate::codec::decode::<crate::state::State>(&data);
            }
        }
    }

    #[test]
    fn require_cookies_answers_badcookie_with_a_fresh_cookie_over_udp_only() {
        use crate::dns::{answer, QueryContext};
        let snapshot = crate::dns::DnsSnapshot::build(&state());
        let keys = Arc::new(CookieKeys::new(CookieSecrets { current: Some([7; 16]), previous: None, set_at: 0 }));
        let policy = EdnsPolicy { nsid: None, cookies: Some(keys), require_cookies: true };
        let seed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/dns_answer/cookie")).expect("seed");
        let ip = "192.0.2.1".parse().expect("ip");
        let udp = answer(&snapshot, &seed, &QueryContext::udp().with_policy(ip, &policy)).expect("answer");
        // BADCOOKIE = 23: low 4 bits (7) in the header, high bits (1) in the OPT TTL.
        assert_eq!(udp[3] & 0x0f, 7);
        assert_eq!(&udp[6..8], &[0, 0], "no answer records");
        let tcp = answer(&snapshot, &seed, &QueryContext::tcp().with_policy(ip, &policy)).expect("answer");
        assert_eq!(tcp[3] & 0x0f, 0);
        assert_eq!(&tcp[6..8], &[0, 1]);
    }
}
