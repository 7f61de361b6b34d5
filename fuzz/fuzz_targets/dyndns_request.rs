//! The dyndns2 request parser: query string / form body, hostnames, addresses, Basic
//! auth header and query credentials.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorumdns::dyndns::request;

fuzz_target!(|data: &[u8]| {
    // First line: Authorization header; second: query string; rest: body.
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let auth = parts.next().and_then(|a| std::str::from_utf8(a).ok());
    let query = parts.next().and_then(|q| std::str::from_utf8(q).ok());
    let body = parts.next().unwrap_or(&[]);
    let p = request::Params::parse(query, body);
    let _ = request::check_system(&p);
    let _ = request::hostnames(&p);
    let _ = request::addresses(&p, request::DYNDNS2_IP_KEYS);
    let _ = request::addresses(&p, &["ipv4", "ipv6"]);
    let _ = request::offline(&p);
    let _ = request::credentials(auth, &p);
    let _ = request::basic_auth(auth);
    if let Some(q) = query {
        let _ = request::parse_ip(q);
        let _ = request::host_name(q);
    }
});
