//! Abuse limits of the public HTTP port: per-address throttling of failed
//! authentication (dyndns secrets, API tokens) and security headers.
//!
//! After `limit` failed authentications from one address within `window`, further
//! requests from that address that need authentication are refused without checking the
//! credential (dyndns: HTTP 429 `badauth` with `Retry-After`; API: 429 JSON) until the
//! window that started with the first failure ends. Other addresses are unaffected.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::HTTP_AUTH_THROTTLED_TOTAL;

/// Addresses tracked at most; beyond that, expired entries are purged (then the oldest).
const MAX_TRACKED: usize = 100_000;

pub(crate) struct AuthThrottle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthThrottle {
    pub(crate) fn new(limit: u32, window: Duration) -> Arc<Self> {
        Arc::new(AuthThrottle { limit, window, failures: Mutex::new(HashMap::new()) })
    }

    /// Whether `ip` has used up its failures in the current window (`limit` 0: never).
    pub(crate) fn is_blocked(&self, ip: IpAddr) -> bool {
        if self.limit == 0 {
            return false;
        }
        let Ok(map) = self.failures.lock() else { return false };
        map.get(&ip).is_some_and(|(n, start)| *n >= self.limit && start.elapsed() < self.window)
    }

    /// Seconds until `ip` may try again.
    pub(crate) fn retry_after(&self, ip: IpAddr) -> u64 {
        let Ok(map) = self.failures.lock() else { return 1 };
        map.get(&ip).map(|(_, start)| self.window.saturating_sub(start.elapsed()).as_secs().max(1)).unwrap_or(1)
    }

    pub(crate) fn failed(&self, ip: IpAddr) {
        let Ok(mut map) = self.failures.lock() else { return };
        let now = Instant::now();
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let window = self.window;
            map.retain(|_, (_, start)| now.duration_since(*start) < window);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let e = map.entry(ip).or_insert((0, now));
        if now.duration_since(e.1) >= self.window {
            *e = (0, now);
        }
        e.0 = e.0.saturating_add(1);
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

/// Throttle check for the API extractors: `Err(seconds)` when the caller is blocked.
pub(crate) fn check(parts: &Parts, surface: &'static str) -> Result<(), u64> {
    match (throttle(parts), peer(parts)) {
        (Some(t), Some(ip)) if t.is_blocked(ip) => {
            HTTP_AUTH_THROTTLED_TOTAL.with_label_values(&[surface]).inc();
            Err(t.retry_after(ip))
        }
        _ => Ok(()),
    }
}

/// Records a failed authentication of the request's peer.
pub(crate) fn record_failure(parts: &Parts) {
    if let (Some(t), Some(ip)) = (throttle(parts), peer(parts)) {
        t.failed(ip);
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
    fn blocks_after_limit_per_address_and_forgets_after_window() {
        let t = AuthThrottle::new(3, Duration::from_millis(200));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(!t.is_blocked(a));
            t.failed(a);
        }
        assert!(t.is_blocked(a));
        assert!(!t.is_blocked(b));
        std::thread::sleep(Duration::from_millis(250));
        assert!(!t.is_blocked(a));
        t.failed(a);
        assert!(!t.is_blocked(a));
    }
}
