//! Host management: the EGI-compatible `/nic/*` calls and REST `/api/v1/hosts...`.
//! Reads come from this node's replica; every change is a command through Raft. Secrets
//! are generated and hashed here, shown once, and never stored or logged in clear.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::caller::{registry_error, rfc3339, submit_error, Caller, EgiError};
use super::error::ApiError;
use super::extract::{JsonBody, Path, Query};
use crate::dyndns::address::parse_source;
use crate::dyndns::credential::{generate_secret, hash_secret_blocking};
use crate::dyndns::request::host_name;
use crate::dyndns::Dyndns;
use crate::model::Fqdn;
use crate::state::{ApplyError, Command, Host, HostPatch};

type Api<T> = Result<T, ApiError>;

/// A host as the EGI API shows it (the seed's fields, in its order).
pub(super) fn egi_host(h: &Host) -> Value {
    json!({
        "fqdn": h.fqdn.as_str(),
        "name": h.name(),
        "domain": h.domain.as_str(),
        "wildcard": h.wildcard,
        "comment": h.comment,
        "available": true,
        "client_faults": h.client_faults,
        "server_faults": h.server_faults,
        "abuse_blocked": h.abuse_blocked,
        "abuse": h.abuse,
        "last_update_ipv4": h.last_update_ipv4.map(rfc3339),
        "tls_update_ipv4": over_tls(h.source_ipv4.as_deref()),
        "ipv4": h.ipv4.map(|i| i.to_string()),
        "last_update_ipv6": h.last_update_ipv6.map(rfc3339),
        "tls_update_ipv6": over_tls(h.source_ipv6.as_deref()),
        "ipv6": h.ipv6.map(|i| i.to_string()),
    })
}

/// The REST view: the EGI fields plus ours.
fn rest_host(h: &Host) -> Value {
    let mut v = egi_host(h);
    if let Some(o) = v.as_object_mut() {
        o.insert("owner".into(), json!(h.owner));
        o.insert("ttl".into(), json!(h.ttl));
        o.insert("expire".into(), json!(h.expire));
        o.insert("zone".into(), json!(h.zone.as_str()));
        o.insert("created".into(), json!(rfc3339(h.created)));
    }
    v
}

/// Whether the last update naming a family arrived over TLS (its recorded origin says).
fn over_tls(source: Option<&str>) -> bool {
    source.is_some_and(|s| parse_source(s).1)
}

/// `(scheme, authority)` of the configured public URL: never the request's Host header,
/// which the client chooses. A running node always has one (`[dyndns] public_url`, or
/// derived from the listen address by `serve --dev`); bare test routers may not.
fn base_url(d: &Dyndns) -> (String, String) {
    let url = d.config.public_url.as_deref().unwrap_or("http://localhost");
    let url = url.trim_end_matches('/').to_string();
    let (scheme, authority) =
        url.split_once("://").map(|(s, a)| (s.to_string(), a.to_string())).unwrap_or(("http".into(), url.clone()));
    (scheme, authority)
}

/// The seed's register/generate_secret host object: host + secret + update URLs.
fn with_secret(d: &Dyndns, h: &Host, secret: &str) -> Value {
    let (scheme, authority) = base_url(d);
    let mut v = egi_host(h);
    if let Some(o) = v.as_object_mut() {
        o.insert("update_secret".into(), json!(secret));
        o.insert(
            "IPv4_update_url_basic_auth".into(),
            json!(format!("{scheme}://{}:{secret}@{authority}/nic/update", h.fqdn)),
        );
        o.insert(
            "IPv4_update_url_bearer_auth".into(),
            json!(format!("{scheme}://{authority}/nic/update?hostname={}&myip=${{myip}}", h.fqdn)),
        );
    }
    v
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(msg)
}

fn find_host(d: &Dyndns, caller: &Caller, fqdn: &Fqdn) -> Api<Host> {
    d.svc
        .read(|s| s.registry.hosts.get(fqdn).filter(|h| caller.may_see(h)).cloned())
        .ok_or_else(|| registry_error(ApplyError::NoSuchHost(fqdn.clone())))
}

fn parse_fqdn(raw: &str) -> Api<Fqdn> {
    host_name(raw).ok_or_else(|| bad(format!("{raw:?} is not a host name (letters, digits, '-', at least two labels)")))
}

#[derive(Deserialize, Default)]
pub(super) struct RegisterParams {
    name: Option<String>,
    domain: Option<String>,
    fqdn: Option<String>,
    comment: Option<String>,
    wildcard: Option<String>,
    ttl: Option<u32>,
    expire: Option<u32>,
}

fn flag(raw: Option<&str>) -> Api<bool> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("0") | Some("no") | Some("off") => Ok(false),
        Some("true") | Some("1") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(bad(format!("wildcard: {other:?} is not one of true|false|1|0|yes|no"))),
    }
}

fn target_fqdn(fqdn: Option<&str>, name: Option<&str>, domain: Option<&str>) -> Api<Fqdn> {
    match (fqdn, name, domain) {
        (Some(f), _, _) => parse_fqdn(f),
        (None, Some(n), Some(dom)) => parse_fqdn(&format!("{}.{}", n.trim(), dom.trim().trim_end_matches('.'))),
        _ => Err(bad("give either fqdn, or name and domain")),
    }
}

/// Registers a host; returns it with its one-time secret.
async fn register(d: &Dyndns, caller: &Caller, p: &RegisterParams) -> Api<(Host, String)> {
    let fqdn = target_fqdn(p.fqdn.as_deref(), p.name.as_deref(), p.domain.as_deref())?;
    let wildcard = flag(p.wildcard.as_deref())?;
    let allowed = d.svc.read(|s| {
        let zone = s.zone_for(&fqdn)?;
        let parent = fqdn.parent()?;
        let domain = s.registry.domain(&parent, Some(&zone.origin))?;
        let user = s.registry.users.get(&caller.owner());
        Some(caller.may_use(&domain, user))
    });
    match allowed {
        None => return Err(registry_error(ApplyError::NoSuchDomain(fqdn.parent().unwrap_or_default()))),
        Some(false) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "domain_not_allowed", "you may not use this domain"))
        }
        Some(true) => {}
    }
    let secret = generate_secret();
    let secret_hash = hash_secret_blocking(secret.clone())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let default_expire = Some(d.config.default_expire_secs).filter(|e| *e > 0);
    let cmd = Command::RegisterHost {
        fqdn: fqdn.clone(),
        owner: caller.owner(),
        secret_hash,
        wildcard,
        comment: p.comment.clone().unwrap_or_default(),
        ttl: p.ttl,
        expire: p.expire.or(default_expire),
        at: crate::clock::unix_ms(),
    };
    d.svc.submit(cmd).await.map_err(submit_error)?;
    let host = find_host(d, caller, &fqdn)?;
    Ok((host, secret))
}

async fn rotate(d: &Dyndns, caller: &Caller, fqdn: &Fqdn) -> Api<(Host, String)> {
    find_host(d, caller, fqdn)?;
    let secret = generate_secret();
    let secret_hash = hash_secret_blocking(secret.clone())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    d.svc.submit(Command::SetHostSecret { fqdn: fqdn.clone(), secret_hash }).await.map_err(submit_error)?;
    Ok((find_host(d, caller, fqdn)?, secret))
}

// ---------------------------------------------------------------- EGI /nic/*

pub(super) async fn nic_register(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Query(p): Query<RegisterParams>,
) -> Result<Json<Value>, EgiError> {
    let (host, secret) = register(&d, &caller, &p).await?;
    Ok(Json(json!({"status": "ok", "message": "Host registered.", "host": with_secret(&d, &host, &secret)})))
}

#[derive(Deserialize)]
pub(super) struct HostParams {
    fqdn: Option<String>,
    name: Option<String>,
    domain: Option<String>,
}

pub(super) async fn nic_unregister(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Query(p): Query<HostParams>,
) -> Result<Json<Value>, EgiError> {
    let fqdn = target_fqdn(p.fqdn.as_deref(), p.name.as_deref(), p.domain.as_deref())?;
    find_host(&d, &caller, &fqdn)?;
    d.svc.submit(Command::UnregisterHost { fqdn }).await.map_err(submit_error)?;
    Ok(Json(json!({"status": "ok", "message": "Host unregistered."})))
}

pub(super) async fn nic_generate_secret(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Query(p): Query<HostParams>,
) -> Result<Json<Value>, EgiError> {
    let fqdn = target_fqdn(p.fqdn.as_deref(), p.name.as_deref(), p.domain.as_deref())?;
    let (host, secret) = rotate(&d, &caller, &fqdn).await?;
    Ok(Json(json!({"status": "ok", "message": "Secret generated.", "host": with_secret(&d, &host, &secret)})))
}

#[derive(Deserialize)]
pub(super) struct DomainFilter {
    domain: Option<String>,
}

fn visible_hosts(d: &Dyndns, caller: &Caller, domain: Option<&str>) -> Api<Vec<Host>> {
    let domain = domain.map(|s| Fqdn::parse(s).map_err(|e| bad(format!("domain: {e}")))).transpose()?;
    Ok(d.svc.read(|s| {
        s.registry
            .hosts
            .values()
            .filter(|h| caller.may_see(h) && domain.as_ref().is_none_or(|dom| &h.domain == dom))
            .cloned()
            .collect()
    }))
}

pub(super) async fn nic_hosts(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Query(f): Query<DomainFilter>,
) -> Result<Json<Value>, EgiError> {
    let hosts = visible_hosts(&d, &caller, f.domain.as_deref())?;
    Ok(Json(json!({"status": "ok", "hosts": hosts.iter().map(egi_host).collect::<Vec<_>>()})))
}

// ---------------------------------------------------------------- REST /api/v1/hosts

pub(super) async fn list(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Query(f): Query<DomainFilter>,
) -> Api<Json<Value>> {
    let hosts = visible_hosts(&d, &caller, f.domain.as_deref())?;
    Ok(Json(json!({"hosts": hosts.iter().map(rest_host).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateHost {
    fqdn: Option<String>,
    name: Option<String>,
    domain: Option<String>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    wildcard: bool,
    ttl: Option<u32>,
    expire: Option<u32>,
}

pub(super) async fn create(caller: Caller, State(d): State<Arc<Dyndns>>, body: JsonBody<CreateHost>) -> Api<Response> {
    let JsonBody(b) = body;
    let p = RegisterParams {
        name: b.name,
        domain: b.domain,
        fqdn: b.fqdn,
        comment: Some(b.comment),
        wildcard: Some(b.wildcard.to_string()),
        ttl: b.ttl,
        expire: b.expire,
    };
    let (host, secret) = register(&d, &caller, &p).await?;
    let mut v = with_secret(&d, &host, &secret);
    if let Some(o) = v.as_object_mut() {
        let (scheme, authority) = base_url(&d);
        o.insert("update_url_token".into(), json!(format!("{scheme}://{authority}/u/{}.{secret}", host.fqdn)));
        o.insert("owner".into(), json!(host.owner));
        o.insert("ttl".into(), json!(host.ttl));
        o.insert("expire".into(), json!(host.expire));
    }
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub(super) async fn get(caller: Caller, State(d): State<Arc<Dyndns>>, Path(fqdn): Path<String>) -> Api<Json<Value>> {
    Ok(Json(rest_host(&find_host(&d, &caller, &parse_fqdn(&fqdn)?)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchHost {
    comment: Option<String>,
    wildcard: Option<bool>,
    ttl: Option<u32>,
    /// 0 removes the expiry.
    expire: Option<u32>,
    abuse: Option<bool>,
    abuse_blocked: Option<bool>,
    owner: Option<String>,
}

pub(super) async fn patch(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(fqdn): Path<String>,
    body: JsonBody<PatchHost>,
) -> Api<Json<Value>> {
    let JsonBody(b) = body;
    let fqdn = parse_fqdn(&fqdn)?;
    let host = find_host(&d, &caller, &fqdn)?;
    if !caller.is_admin() && (b.abuse_blocked.is_some() || b.owner.is_some() || (b.abuse == Some(true) && !host.abuse))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the admin sets abuse, abuse_blocked and owner",
        ));
    }
    let patch = HostPatch {
        comment: b.comment,
        wildcard: b.wildcard,
        ttl: b.ttl,
        expire: b.expire.map(|e| Some(e).filter(|e| *e > 0)),
        abuse: b.abuse,
        abuse_blocked: b.abuse_blocked,
        owner: b.owner,
    };
    d.svc.submit(Command::UpdateHostSettings { fqdn: fqdn.clone(), patch }).await.map_err(submit_error)?;
    Ok(Json(rest_host(&find_host(&d, &caller, &fqdn)?)))
}

pub(super) async fn delete(caller: Caller, State(d): State<Arc<Dyndns>>, Path(fqdn): Path<String>) -> Api<Json<Value>> {
    let fqdn = parse_fqdn(&fqdn)?;
    find_host(&d, &caller, &fqdn)?;
    let c = d.svc.submit(Command::UnregisterHost { fqdn: fqdn.clone() }).await.map_err(submit_error)?;
    Ok(Json(json!({"fqdn": fqdn.as_str(), "deleted": true, "index": c.index})))
}

pub(super) async fn new_secret(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(fqdn): Path<String>,
) -> Api<Json<Value>> {
    let (host, secret) = rotate(&d, &caller, &parse_fqdn(&fqdn)?).await?;
    Ok(Json(with_secret(&d, &host, &secret)))
}

pub(super) async fn history(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(fqdn): Path<String>,
) -> Api<Json<Value>> {
    let fqdn = parse_fqdn(&fqdn)?;
    find_host(&d, &caller, &fqdn)?;
    let entries: Vec<Value> = d.svc.read(|s| {
        s.registry
            .history
            .get(&fqdn)
            .map(|h| {
                h.iter()
                    .rev()
                    .map(|e| {
                        json!({
                            "time": rfc3339(e.at),
                            "endpoint": e.endpoint,
                            "source": parse_source(&e.source).0,
                            "tls": parse_source(&e.source).1,
                            "user_agent": e.agent,
                            "old_ipv4": e.old_ipv4, "old_ipv6": e.old_ipv6,
                            "new_ipv4": e.new_ipv4, "new_ipv6": e.new_ipv6,
                            "result": e.result.as_str(),
                            "index": e.index,
                            "serial": e.serial.0,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    Ok(Json(json!({"fqdn": fqdn.as_str(), "history": entries})))
}
