//! The whole DNS request path: wire parse, cookies/NSID, zone lookup, response
//! assembly, over a snapshot with a few zones (delegation, wildcard, CNAME chain and
//! loop, a big RRset that truncates), over UDP and TCP. Every response must parse as a
//! DNS message header with QR set and the query's ID.
#![no_main]

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use quorumdns::dns::cookie::CookieKeys;
use quorumdns::dns::edns::EdnsPolicy;
use quorumdns::dns::{answer, DnsSnapshot, QueryContext, Slip};
use quorumdns::model::cookie::CookieSecrets;

fn fixture() -> &'static (DnsSnapshot, EdnsPolicy) {
    static F: OnceLock<(DnsSnapshot, EdnsPolicy)> = OnceLock::new();
    F.get_or_init(|| {
        let state = quorumdns::dns::fuzzing::state();
        let keys = Arc::new(CookieKeys::new(CookieSecrets { current: Some([7; 16]), previous: Some([8; 16]), set_at: 0 }));
        let policy = EdnsPolicy { nsid: Some(b"fuzz-node".to_vec()), cookies: Some(keys), require_cookies: false };
        (DnsSnapshot::build(&state), policy)
    })
}

fuzz_target!(|data: &[u8]| {
    let (snapshot, policy) = fixture();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let base = [QueryContext::udp(), QueryContext::tcp()];
    for ctx in base {
        for slip in [None, Some(Slip::Truncate), Some(Slip::BadCookie)] {
            let ctx = QueryContext { slip, ..ctx.with_policy(ip, policy) };
            if let Some(out) = answer(snapshot, data, &ctx) {
                assert!(out.len() >= 12, "short response");
                assert_eq!(&out[..2], &data[..2], "id echoed");
                assert!(out[2] & 0x80 != 0, "QR set");
                if ctx.transport == quorumdns::dns::Transport::Udp {
                    assert!(out.len() <= 1232 || data.len() > 1232, "UDP response over 1232 octets");
                }
            }
        }
    }
});
