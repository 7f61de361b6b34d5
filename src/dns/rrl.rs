//! Response rate limiting for UDP (in the spirit of BIND's RRL): a token bucket per
//! (client prefix, answer class). Responses beyond the rate are dropped, except every
//! `slip`-th one, which goes out as a minimal TC=1 response (or BADCOOKIE with a fresh
//! cookie when the client speaks cookies), so a real client behind a spoofed flood can
//! still get through over TCP. Queries with a valid server cookie and TCP are exempt:
//! neither can be spoofed.
//!
//! Answer classes: NOERROR answers by (qname, qtype); NXDOMAIN and errors share one
//! bucket per prefix and rcode, so random-subdomain floods hit one bucket.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use super::answer::Slip;
use super::cookie::CookieStatus;
use crate::metrics::DNS_RRL_TOTAL;

const SHARDS: usize = 16;

#[derive(Clone, Debug)]
pub struct RrlConfig {
    /// Responses per second per bucket; 0 disables rate limiting.
    pub responses_per_second: u32,
    /// Tokens a bucket can save up (burst size).
    pub burst: u32,
    /// Every Nth limited response is sent as a minimal response; 0 = drop them all.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Most buckets kept per shard before idle ones are evicted.
    pub max_buckets: usize,
}

impl Default for RrlConfig {
    fn default() -> Self {
        RrlConfig {
            responses_per_second: 0,
            burst: 20,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            max_buckets: 65_536 / SHARDS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Slip(Slip),
    Drop,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    limited: u32,
}

pub struct Rrl {
    config: RrlConfig,
    shards: Vec<Mutex<HashMap<(u128, u64), Bucket>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Rrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rrl({:?})", self.config)
    }
}

impl Rrl {
    pub fn new(config: RrlConfig) -> Self {
        Rrl { config, shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(), hasher: Default::default() }
    }

    pub fn enabled(&self) -> bool {
        self.config.responses_per_second > 0
    }

    fn prefix(&self, ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(a) => {
                let bits = self.config.ipv4_prefix.min(32) as u32;
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                (u32::from(a) & mask) as u128
            }
            IpAddr::V6(a) => {
                let bits = self.config.ipv6_prefix.min(128) as u32;
                let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                // Tag v6 so a v6 prefix never shares a bucket with a v4 one.
                (u128::from(a) & mask) | 1
            }
        }
    }

    /// Decides for one UDP response. `response` is the answer as built (its question
    /// names the bucket), `rcode` its response code.
    pub fn check(&self, client: IpAddr, response: &[u8], rcode: u16, cookie: CookieStatus, now: Instant) -> Verdict {
        if !self.enabled() || cookie.is_valid() {
            return Verdict::Send;
        }
        let mut h = self.hasher.build_hasher();
        rcode.hash(&mut h);
        if rcode == 0 {
            question_key(response).hash(&mut h);
        }
        let key = (self.prefix(client), h.finish());
        let shard = &self.shards[(key.1 as usize ^ key.0 as usize) % SHARDS];
        let Ok(mut map) = shard.lock() else { return Verdict::Send };
        if map.len() >= self.config.max_buckets && !map.contains_key(&key) {
            let rate = self.config.responses_per_second as f64;
            let burst = self.config.burst as f64;
            // Forget buckets that have refilled completely: they are back to the default.
            map.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst);
            if map.len() >= self.config.max_buckets {
                map.clear();
            }
        }
        let c = &self.config;
        let b = map.entry(key).or_insert(Bucket { tokens: c.burst as f64, last: now, limited: 0 });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * c.responses_per_second as f64).min(c.burst.max(1) as f64);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Verdict::Send;
        }
        b.limited = b.limited.wrapping_add(1);
        let verdict = if c.slip > 0 && b.limited % c.slip == 0 {
            Verdict::Slip(match cookie {
                CookieStatus::ClientOnly { .. } => Slip::BadCookie,
                _ => Slip::Truncate,
            })
        } else {
            Verdict::Drop
        };
        let label = if verdict == Verdict::Drop { "dropped" } else { "slipped" };
        DNS_RRL_TOTAL.with_label_values(&[label]).inc();
        verdict
    }
}

/// The question section of a response (lowercased name + type), or empty.
fn question_key(response: &[u8]) -> ([u8; 255], usize) {
    let mut key = [0u8; 255];
    let mut pos = super::wire::HEADER_LEN;
    let mut n = 0;
    while let Some(&len) = response.get(pos) {
        if len == 0 || len > 63 {
            break;
        }
        let end = pos + 1 + len as usize;
        let Some(label) = response.get(pos..end) else { break };
        for &c in label {
            if n < key.len() {
                key[n] = c.to_ascii_lowercase();
                n += 1;
            }
        }
        pos = end;
    }
    if let Some(t) = response.get(pos + 1..pos + 3) {
        for &c in t {
            if n < key.len() {
                key[n] = c;
                n += 1;
            }
        }
    }
    (key, n)
}

/// Answers one UDP datagram from `client` with cookies/NSID and rate limiting applied.
/// Returns false when nothing is to be sent.
pub fn udp_answer(
    snapshot: &crate::dns::view::snapshot::DnsSnapshot,
    query: &[u8],
    client: IpAddr,
    policy: &super::edns::EdnsPolicy,
    rrl: &Rrl,
    out: &mut Vec<u8>,
) -> bool {
    let ctx = super::answer::QueryContext::udp().with_policy(client, policy);
    let Some(outcome) = super::answer::answer_outcome(snapshot, query, &ctx, out) else { return false };
    match rrl.check(client, out, outcome.rcode, outcome.cookie, Instant::now()) {
        Verdict::Send => true,
        Verdict::Drop => false,
        Verdict::Slip(slip) => {
            let ctx = super::answer::QueryContext { slip: Some(slip), ..ctx };
            super::answer::answer_outcome(snapshot, query, &ctx, out).is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn resp(name: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 12];
        r.extend_from_slice(name);
        r.extend_from_slice(&[0, 1, 0, 1]);
        r
    }

    #[test]
    fn limits_per_prefix_and_answer_with_slip() {
        let rrl = Rrl::new(RrlConfig { responses_per_second: 5, burst: 5, slip: 2, ..RrlConfig::default() });
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_prefix: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let r = resp(b"\x03www\x04test\x00");
        let verdicts: Vec<_> = (0..11).map(|_| rrl.check(a, &r, 0, CookieStatus::Absent, now)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Send).count(), 5);
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Slip(Slip::Truncate)).count(), 3);
        assert_eq!(rrl.check(same_prefix, &r, 0, CookieStatus::Absent, now), Verdict::Drop);
        assert_eq!(rrl.check(other, &r, 0, CookieStatus::Absent, now), Verdict::Send);
        // Another name from the same prefix has its own bucket.
        assert_eq!(rrl.check(a, &resp(b"\x03ftp\x04test\x00"), 0, CookieStatus::Absent, now), Verdict::Send);
        // Valid cookies are exempt; a client cookie gets BADCOOKIE slips.
        assert_eq!(rrl.check(a, &r, 0, CookieStatus::Valid { client: [0; 8] }, now), Verdict::Send);
        let v: Vec<_> = (0..2).map(|_| rrl.check(a, &r, 0, CookieStatus::ClientOnly { client: [0; 8] }, now)).collect();
        assert!(v.contains(&Verdict::Slip(Slip::BadCookie)));
        // Tokens come back with time.
        assert_eq!(rrl.check(a, &r, 0, CookieStatus::Absent, now + Duration::from_secs(1)), Verdict::Send);
    }

    #[test]
    fn nxdomain_shares_one_bucket_and_table_is_bounded() {
        let rrl =
            Rrl::new(RrlConfig { responses_per_second: 1, burst: 1, slip: 0, max_buckets: 4, ..RrlConfig::default() });
        let now = Instant::now();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(rrl.check(a, &resp(b"\x01a\x00"), 3, CookieStatus::Absent, now), Verdict::Send);
        assert_eq!(rrl.check(a, &resp(b"\x01b\x00"), 3, CookieStatus::Absent, now), Verdict::Drop);
        for i in 0..100u8 {
            rrl.check(a, &resp(&[1, i, 0]), 0, CookieStatus::Absent, now);
        }
        assert!(rrl.shards.iter().all(|s| s.lock().unwrap().len() <= 4));
    }
}
