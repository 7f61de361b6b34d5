//! The whole DNS request path: wire parse, cookies/NSID, zone lookup, response
//! assembly, over a snapshot with a few zones (delegation, wildcard, CNAME chain and
//! loop, a big RRset that truncates), over UDP and TCP. Every response must parse as a
//! DNS message header with QR set and the query's ID.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use quorumdns::dns::cookie::CookieKeys;
use quorumdns::dns::edns::EdnsPolicy;
use quorumdns::dns::DnsSnapshot;
use quorumdns::model::cookie::CookieSecrets;

fn fixture() -> &'static (DnsSnapshot, EdnsPolicy) {
    static F: OnceLock<(DnsSnapshot, EdnsPolicy)> = OnceLock::new();
    F.get_or_init(|| {
        let state = quorumdns::dns::fuzzing::state();
        let keys =
            Arc::new(CookieKeys::new(CookieSecrets { current: Some([7; 16]), previous: Some([8; 16]), set_at: 0 }));
        let policy = EdnsPolicy { nsid: Some(b"fuzz-node".to_vec()), cookies: Some(keys), require_cookies: false };
        (DnsSnapshot::build(&state), policy)
    })
}

fuzz_target!(|data: &[u8]| {
    let (snapshot, policy) = fixture();
    if let Err(e) = quorumdns::dns::fuzzing::check_dns_input(snapshot, policy, data) {
        panic!("{e}");
    }
});
