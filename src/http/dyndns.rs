//! The update endpoints: dyndns2 (`/nic/update`, `/v3/update`, `/update`, `/nic/delete`),
//! nanodnsd/Fritz!Box (`/api/update`) and DNS Dynamo (`/u/{token}`). This is the one
//! place where an update outcome becomes an HTTP answer.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::tls::Transport;
use crate::dyndns::request::{self, Addresses, Params, RequestError};
use crate::dyndns::update::{Outcome, UpdateRequest};
use crate::dyndns::{Dyndns, Endpoint, ReturnCode};
use crate::metrics;
use crate::state::AddrChange;

/// Update requests are small; anything bigger is not a client we know.
const UPDATE_BODY_LIMIT: usize = 16 * 1024;
/// Seconds a client should wait after `911` when the cluster could not commit.
pub(crate) const RETRY_AFTER_SECS: u64 = 5;

pub(crate) async fn nic_update(State(d): State<Arc<Dyndns>>, req: Request) -> Response {
    handle(&d, Endpoint::Dyndns2, None, req).await
}

pub(crate) async fn nic_delete(State(d): State<Arc<Dyndns>>, req: Request) -> Response {
    handle(&d, Endpoint::Delete, None, req).await
}

pub(crate) async fn api_update(State(d): State<Arc<Dyndns>>, req: Request) -> Response {
    handle(&d, Endpoint::Nanodnsd, None, req).await
}

pub(crate) async fn token_path(
    State(d): State<Arc<Dyndns>>,
    axum::extract::Path(token): axum::extract::Path<String>,
    req: Request,
) -> Response {
    handle(&d, Endpoint::Dynamo, Some(token), req).await
}

pub(crate) async fn token_missing() -> Response {
    text(StatusCode::OK, "NT".into())
}

async fn handle(d: &Dyndns, endpoint: Endpoint, path_token: Option<String>, req: Request) -> Response {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, UPDATE_BODY_LIMIT).await else {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "badagent".into());
    };
    let peer = super::limits::peer(&parts);
    let source = client_ip(d, peer, &parts.headers);
    let transport = transport(d, &parts, peer);
    metrics::DYNDNS_UPDATE_TRANSPORT_TOTAL.with_label_values(&[transport]).inc();
    let params = Params::parse(parts.uri.query(), &body);
    let req = match build(d, endpoint, path_token, &params, &parts.headers, source, transport != "plain") {
        Ok(req) => req,
        Err(code) => return respond(d, endpoint, Outcome::Lines(vec![code])),
    };
    let throttle = super::limits::throttle(&parts);
    let claimed = req.creds.as_ref().map(|c| c.claimed_name(req.hostnames.as_ref()));
    if let (Some(t), Some(name)) = (&throttle, &claimed) {
        if let Some(secs) = t.blocked(source, name) {
            // Brute-force protection: refused without looking at the credential, with an
            // answer clients retry (inadyn exits on 429 and on `badauth`).
            metrics::HTTP_AUTH_THROTTLED_TOTAL.with_label_values(&["dyndns"]).inc();
            tracing::info!(%source, name = %name, retry_after = secs, "update refused unchecked: too many failures");
            return throttled(endpoint, secs);
        }
    }
    let outcome = d.update(req).await;
    let failed = match &outcome {
        // No credentials at all is the normal first step of Basic auth, not a guess.
        Outcome::Unauthorized | Outcome::Unavailable => false,
        Outcome::Lines(lines) => lines.contains(&ReturnCode::BadAuth),
    };
    if let (true, Some(t), Some(name)) = (failed, &throttle, &claimed) {
        t.failed(source, name);
    }
    metrics::DYNDNS_UPDATE_DURATION.with_label_values(&[endpoint.as_str()]).observe(start.elapsed().as_secs_f64());
    respond(d, endpoint, outcome)
}

/// The answer to a request the brute-force throttle refused: what each dialect's clients
/// treat as temporary. dyndns2 and `/api/update`: HTTP 503 + Retry-After + `911`; DNS
/// Dynamo: HTTP 200 `TF` (every code of that dialect is HTTP 200).
fn throttled(endpoint: Endpoint, retry_after: u64) -> Response {
    metrics::DYNDNS_UPDATES_TOTAL.with_label_values(&[endpoint.as_str(), "throttled"]).inc();
    match endpoint {
        Endpoint::Dynamo => text(StatusCode::OK, "TF".into()),
        _ => with_retry_after(text(StatusCode::SERVICE_UNAVAILABLE, ReturnCode::ServerError.to_string()), retry_after),
    }
}

/// How the request arrived: `tls` (this node's TLS listener), `proxy_tls` (a trusted
/// proxy's `X-Forwarded-Proto: https`, the value it appended last), or `plain`.
fn transport(d: &Dyndns, parts: &axum::http::request::Parts, peer: Option<IpAddr>) -> &'static str {
    if parts.extensions.get::<Transport>() == Some(&Transport::Tls) {
        return "tls";
    }
    let trusted = peer.is_some_and(|p| d.config.trusted_proxies.iter().any(|net| net.contains(&p)));
    let proto = parts
        .headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .map(str::trim);
    if trusted && proto.is_some_and(|p| p.eq_ignore_ascii_case("https")) {
        "proxy_tls"
    } else {
        "plain"
    }
}

/// Reads the request into an update, or the one code that answers it at once.
fn build(
    d: &Dyndns,
    endpoint: Endpoint,
    path_token: Option<String>,
    p: &Params,
    headers: &HeaderMap,
    source: IpAddr,
    tls: bool,
) -> Result<UpdateRequest, ReturnCode> {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let creds = match &path_token {
        Some(t) => t.rsplit_once('.').map(|(host, secret)| request::Credentials {
            user: Some(host.to_string()),
            secret: secret.to_string(),
            bearer: false,
        }),
        None => request::credentials(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()), p),
    };
    if endpoint == Endpoint::Dynamo && creds.is_none() {
        return Err(ReturnCode::NotFqdn); // answered NT below
    }
    let req_err = |e: RequestError| {
        if let RequestError::Refused(ip, rule) = &e {
            metrics::DYNDNS_ADDRESSES_REFUSED_TOTAL.with_label_values(&[rule]).inc();
            tracing::info!(address = %ip, rule, "update refused: the address policy refuses the address");
        }
        e.code()
    };
    request::check_system(p).map_err(req_err)?;
    let hostnames = request::hostnames(p).map_err(req_err)?;
    if d.config.require_user_agent && agent.is_empty() {
        return Err(ReturnCode::BadAgent);
    }
    let client = Addresses::from_ip(source);
    let (v4, v6) = match endpoint {
        Endpoint::Dyndns2 => {
            let a = request::addresses(p, request::DYNDNS2_IP_KEYS).map_err(req_err)?;
            if request::offline(p) {
                (AddrChange::Remove, AddrChange::Remove)
            } else if a.is_empty() {
                client.set_or_keep()
            } else {
                a.set_or_keep()
            }
        }
        Endpoint::Delete => {
            let a = request::addresses(p, request::DYNDNS2_IP_KEYS).map_err(req_err)?;
            let all = a.is_empty();
            let v4 = if all || a.v4.is_some() { AddrChange::Remove } else { AddrChange::Keep };
            let v6 = if all || a.v6.is_some() { AddrChange::Remove } else { AddrChange::Keep };
            (v4, v6)
        }
        Endpoint::Nanodnsd => request::addresses(p, &["ipv4", "ipv6"]).map_err(req_err)?.set_or_remove(),
        Endpoint::Dynamo => {
            let a = request::addresses(p, &["ip"]).map_err(req_err)?;
            if a.is_empty() {
                client.set_or_keep()
            } else {
                a.set_or_keep()
            }
        }
    };
    let published = Addresses { v4: set(v4), v6: set(v6) };
    request::check_policy(&published, &d.config.refuse_addresses).map_err(req_err)?;
    Ok(UpdateRequest { endpoint, hostnames, v4, v6, creds, source, tls, agent })
}

fn set<T: Copy>(change: AddrChange<T>) -> Option<T> {
    match change {
        AddrChange::Set(ip) => Some(ip),
        AddrChange::Keep | AddrChange::Remove => None,
    }
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub(crate) fn client_ip(d: &Dyndns, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
    let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let trusted = |ip: &IpAddr| d.config.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(request::parse_ip)
        .collect();
    forwarded.into_iter().rev().find(|ip| !trusted(ip)).unwrap_or(peer)
}

fn respond(d: &Dyndns, endpoint: Endpoint, outcome: Outcome) -> Response {
    let count = |code: &str| metrics::DYNDNS_UPDATES_TOTAL.with_label_values(&[endpoint.as_str(), code]).inc();
    match (outcome, endpoint) {
        (Outcome::Unavailable, Endpoint::Dynamo) => {
            count("911");
            with_retry_after(text(StatusCode::SERVICE_UNAVAILABLE, "ER".into()), RETRY_AFTER_SECS)
        }
        (Outcome::Unavailable, _) => {
            count("911");
            with_retry_after(
                text(StatusCode::SERVICE_UNAVAILABLE, ReturnCode::ServerError.to_string()),
                RETRY_AFTER_SECS,
            )
        }
        (Outcome::Unauthorized, Endpoint::Dynamo) => {
            count("badauth");
            text(StatusCode::OK, "NT".into())
        }
        (Outcome::Unauthorized, _) => {
            count("badauth");
            let mut r = text(StatusCode::UNAUTHORIZED, ReturnCode::BadAuth.to_string());
            let realm = format!("Basic realm=\"{}\"", d.config.realm.replace('"', ""));
            if let Ok(v) = HeaderValue::from_str(&realm) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            r
        }
        (Outcome::Lines(lines), Endpoint::Dynamo) => {
            let code = lines.first().cloned().unwrap_or(ReturnCode::DnsErr);
            count(code.label());
            // `NT`: no usable token in the URL (missing, or no host part).
            let wire = if code == ReturnCode::NotFqdn { "NT" } else { code.dynamo() };
            text(StatusCode::OK, wire.into())
        }
        (Outcome::Lines(lines), _) => {
            lines.iter().for_each(|l| count(l.label()));
            let body = lines.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            // A line that says "later" (`911`) makes the whole answer a 503 with the
            // longest wait: clients that look only at the status retry too.
            match lines.iter().filter_map(ReturnCode::retry_after).max() {
                Some(secs) => with_retry_after(text(StatusCode::SERVICE_UNAVAILABLE, body), secs),
                None => text(StatusCode::OK, body),
            }
        }
    }
}

/// A text/plain answer with an exact Content-Length (never chunked: ddclient 3.10 reads
/// the raw socket).
fn text(status: StatusCode, body: String) -> Response {
    let len = body.len();
    let mut r = (status, Body::from(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn with_retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}
