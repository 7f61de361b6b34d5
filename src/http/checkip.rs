//! Check-IP on the public port, for clients that learn their address from the service
//! (ddclient `use=web, web=...`, inadyn `checkip-server`, scripts): `/checkip` in
//! checkip.dyndns.org's format (an HTML line `Current IP Address: <ip>`) and `/myip` as
//! bare text. The address is the one an update without `myip` would publish: the TCP
//! peer, or the client a trusted proxy names (`[dyndns] trusted_proxies`), never a
//! header from anyone else.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::dyndns::Dyndns;
use crate::metrics::CHECKIP_REQUESTS_TOTAL;

/// The client's address as an update would take it; IPv4-mapped IPv6 (a dual-stack
/// listener) shown as IPv4.
fn address(d: &Dyndns, req: Request) -> IpAddr {
    let (parts, _) = req.into_parts();
    super::dyndns::client_ip(d, super::limits::peer(&parts), &parts.headers).to_canonical()
}

fn answer(endpoint: &'static str, ip: IpAddr, content_type: &'static str, body: String) -> Response {
    let family = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
    let _span = tracing::info_span!("checkip", endpoint, family).entered();
    CHECKIP_REQUESTS_TOTAL.with_label_values(&[endpoint, family]).inc();
    tracing::debug!(%ip, "told the client its address");
    let len = body.len();
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /checkip`: checkip.dyndns.org's page, which every dyndns client can parse.
pub(crate) async fn checkip(State(d): State<Arc<Dyndns>>, req: Request) -> Response {
    let ip = address(&d, req);
    let body =
        format!("<html><head><title>Current IP Check</title></head><body>Current IP Address: {ip}</body></html>\r\n");
    answer("checkip", ip, "text/html; charset=utf-8", body)
}

/// `GET /myip`: the address alone, no newline.
pub(crate) async fn myip(State(d): State<Arc<Dyndns>>, req: Request) -> Response {
    let ip = address(&d, req);
    answer("myip", ip, "text/plain; charset=utf-8", ip.to_string())
}
