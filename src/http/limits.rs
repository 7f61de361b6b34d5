//! Abuse limits of the public HTTP port: throttling of failed authentication (dyndns
//! secrets, API tokens, acme-dns keys) and security headers.
//!
//! Failures are counted per (client address, credential name): the host name or account
//! a dyndns credential claims, the id of a bearer token. After `limit` failures of one
//! pair within the sliding `window`, further attempts of that pair are refused without
//! checking the credential, until the oldest failure leaves the window (no fixed windows,
//! so no reset gap to squeeze extra guesses through). A wrong secret for one host never
//! delays another host's correct secret, or the admin API, from the same address (one
//! NAT for a whole office). Dynamic DNS clients get an answer they retry
//! (src/http/dyndns.rs); the JSON API gets 429.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{HTTP_AUTH_THROTTLED_TOTAL, HTTP_AUTH_THROTTLE_TRACKED};

/// (address, name) pairs tracked at most; beyond that, expired entries are purged
/// (then everything: a flood of distinct names must not grow memory without bound).
const MAX_TRACKED: usize = 100_000;
/// Longer names are cut: a key never holds more than this of what the client sent.
const MAX_NAME: usize = 255;

type Key = (IpAddr, String);

pub(crate) struct AuthThrottle {
    limit: u32,
    window: Duration,
    /// Failure times per pair, oldest first, at most `limit` of them.
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

fn key(ip: IpAddr, name: &str) -> Key {
    let mut name = name.to_ascii_lowercase();
    if name.len() > MAX_NAME {
        let cut = (0..=MAX_NAME).rev().find(|i| name.is_char_boundary(*i)).unwrap_or(0);
        name.truncate(cut);
    }
    (ip, name)
}

impl AuthThrottle {
    pub(crate) fn new(limit: u32, window: Duration) -> Arc<Self> {
        Arc::new(AuthThrottle { limit, window, failures: Mutex::new(HashMap::new()) })
    }

    /// `Some(seconds until it may try again)` when the pair has used up its failures
    /// within the last `window` (`limit` 0: never).
    pub(crate) fn blocked(&self, ip: IpAddr, name: &str) -> Option<u64> {
        self.blocked_at(ip, name, Instant::now())
    }

    fn blocked_at(&self, ip: IpAddr, name: &str, now: Instant) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = map.get(&key(ip, name))?;
        let recent: Vec<&Instant> = times.iter().filter(|t| now.saturating_duration_since(**t) < self.window).collect();
        if recent.len() < self.limit as usize {
            return None;
        }
        // The oldest recent failure leaving the window makes room for one more try.
        let frees = self.window.saturating_sub(now.saturating_duration_since(*recent[0]));
        Some(frees.as_millis().div_ceil(1000).max(1) as u64)
    }

    pub(crate) fn failed(&self, ip: IpAddr, name: &str) {
        self.failed_at(ip, name, Instant::now());
    }

    fn failed_at(&self, ip: IpAddr, name: &str, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(ip, name);
        if map.len() >= MAX_TRACKED && !map.contains_key(&k) {
            let window = self.window;
            map.retain(|_, times| times.back().is_some_and(|t| now.saturating_duration_since(*t) < window));
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let times = map.entry(k).or_default();
        while times.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
            || times.len() >= self.limit as usize
        {
            times.pop_front();
        }
        times.push_back(now);
        HTTP_AUTH_THROTTLE_TRACKED.set(i64::try_from(map.len()).unwrap_or(i64::MAX));
    }
}

/// The name a bearer token claims: the id of a user token (`<id>.<secret>`), else
/// `bearer` (the admin token, or a guess).
pub(crate) fn bearer_name(token: &str) -> String {
    match token.split_once('.') {
        Some((id, _)) if !id.is_empty() => format!("token:{id}"),
        _ => "bearer".into(),
    }
}

/// The TCP peer of a request (real or, in tests, mocked).
pub(crate) fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| parts.extensions.get::<MockConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// The throttle installed on the router (none in bare unit-test routers).
pub(crate) fn throttle(parts: &Parts) -> Option<Arc<AuthThrottle>> {
    parts.extensions.get::<Arc<AuthThrottle>>().cloned()
}

/// Throttle check for the API extractors: `Err(seconds)` when the caller's address has
/// failed too often with this credential name.
pub(crate) fn check(parts: &Parts, surface: &'static str, name: &str) -> Result<(), u64> {
    match (throttle(parts), peer(parts)) {
        (Some(t), Some(ip)) => match t.blocked(ip, name) {
            Some(secs) => {
                HTTP_AUTH_THROTTLED_TOTAL.with_label_values(&[surface]).inc();
                Err(secs)
            }
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Records a failed authentication of the request's peer with this credential name.
pub(crate) fn record_failure(parts: &Parts, name: &str) {
    if let (Some(t), Some(ip)) = (throttle(parts), peer(parts)) {
        t.failed(ip, name);
    }
}

/// Headers every response of the public port carries: no MIME sniffing, no framing, no
/// referrer, nothing to run; API answers are never cached.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/nic/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    if api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_pair_after_limit_and_never_other_names_or_addresses() {
        let t = AuthThrottle::new(3, Duration::from_secs(3600));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(t.blocked(a, "h.dyn.test"), None);
            t.failed(a, "h.dyn.test");
        }
        let secs = t.blocked(a, "H.dyn.test").expect("blocked, names compared without case");
        assert!((3599..=3600).contains(&secs), "{secs}");
        assert_eq!(t.blocked(a, "other.dyn.test"), None, "another host's name from the same address");
        assert_eq!(t.blocked(a, "bearer"), None, "the admin API from the same address");
        assert_eq!(t.blocked(b, "h.dyn.test"), None, "the same host from another address");
    }

    #[test]
    fn the_window_slides_so_a_burst_across_a_boundary_is_still_counted() {
        let t = AuthThrottle::new(3, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        t.failed_at(a, "h", at(0));
        t.failed_at(a, "h", at(50));
        t.failed_at(a, "h", at(55));
        assert_eq!(t.blocked_at(a, "h", at(56)), Some(4), "until the failure at 0 leaves the window at 60");
        // The first failure left the window: one more try, and it counts at once.
        assert_eq!(t.blocked_at(a, "h", at(61)), None);
        t.failed_at(a, "h", at(61));
        assert_eq!(t.blocked_at(a, "h", at(62)), Some(48), "no reset gap: 50, 55 and 61 are within 60 s");
        assert_eq!(t.blocked_at(a, "h", at(111)), None, "the failure at 50 left");
    }

    #[test]
    fn a_zero_limit_is_off_and_names_are_bounded() {
        let off = AuthThrottle::new(0, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        off.failed(a, "h");
        assert_eq!(off.blocked(a, "h"), None);
        let long = "x".repeat(1000);
        assert_eq!(key(a, &long).1.len(), MAX_NAME);
        assert_eq!(bearer_name("abc.secret"), "token:abc");
        assert_eq!(bearer_name("admin-token-without-dot"), "bearer");
    }
}
