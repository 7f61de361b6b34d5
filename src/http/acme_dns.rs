//! An acme-dns compatible API (github.com/joohoi/acme-dns) under `/acme-dns`, for ACME
//! clients that speak it instead of RFC 2136 (lego, acme.sh, cert-manager, certbot hooks).
//!
//! - `POST /acme-dns/register` creates an account and answers `{username, password,
//!   fulldomain, subdomain, allowfrom}` once; the password is kept as an argon2id hash.
//!   It needs the admin bearer token, unless `[http] acme_dns_open_registration` opens it
//!   to anyone, as acme-dns itself does by default.
//! - `POST /acme-dns/update` with `X-Api-User` / `X-Api-Key` and `{subdomain, txt}` (a
//!   JSON body, whatever its Content-Type says: acme.sh and the acme-dns README send
//!   none) sets the TXT RRset of `<subdomain>.<zone>` to its two most recent values,
//!   which expire through the log `acme_dns_txt_lifetime_secs` after their last update
//!   (default 24 h; a leader sweep proposes `ExpireRecords`, like dyndns host expiry).
//!   Wrong keys are throttled per (client address, username) like every credential.
//! - `GET /acme-dns/health`: 200 with an empty body while the API is on.
//!
//! acme-dns's per-account `allowfrom` networks are refused for now (400
//! `allowfrom_unsupported`): keeping them needs a field in the replicated account, a
//! data format change of its own. An empty or absent `allowfrom` is what lego, acme.sh
//! and cert-manager send.
//!
//! The zone is the first `[[zone]]` with `acme_dns = true`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tracing::Instrument;

use super::auth::Admin;
use crate::dyndns::credential::{generate_secret, hash_secret_blocking, verify_hash};
use crate::metrics::{ACME_DNS_EXPIRY_SWEEPS_TOTAL, ACME_DNS_UPDATES_TOTAL};
use crate::model::Fqdn;
use crate::service::Service;
use crate::state::rfc2136::AcmeAccount;
use crate::state::Command;

pub(crate) const TXT_TTL: u32 = 60;
/// The sweep looks this often at most (and at least every half lifetime).
const SWEEP_MAX: Duration = Duration::from_secs(10);
const SWEEP_MIN: Duration = Duration::from_millis(500);

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// Where acme-dns accounts live: the first `[[zone]]` with `acme_dns = true`, and how
/// long a TXT value lives after its last update. `zone: None` turns the API off.
#[derive(Clone, Debug, Default)]
pub struct AcmeDnsSettings {
    pub zone: Option<Fqdn>,
    pub txt_lifetime_ms: Option<u64>,
    /// `/acme-dns/register` without the admin token (`[http] acme_dns_open_registration`).
    pub open_registration: bool,
}

/// Unless configured: a TXT value lives a day after its last update.
const DEFAULT_TXT_LIFETIME_MS: u64 = 24 * 3600 * 1000;

#[derive(Deserialize, Default)]
struct RegisterBody {
    #[serde(default)]
    allowfrom: Option<Vec<String>>,
}

pub(crate) async fn register(
    admin: Result<Admin, super::error::ApiError>,
    State(svc): State<Arc<Service>>,
    Extension(settings): Extension<Arc<AcmeDnsSettings>>,
    body: Bytes,
) -> Response {
    let count = |result: &str| ACME_DNS_UPDATES_TOTAL.with_label_values(&["register", result]).inc();
    let Some(zone) = settings.zone.clone() else { return error(StatusCode::NOT_FOUND, "acme_dns_disabled") };
    let how = match (admin, settings.open_registration) {
        (Ok(Admin), _) => "ok",
        (Err(_), true) => "open",
        (Err(e), false) => {
            count("unauthorized");
            return e.into_response();
        }
    };
    // acme-dns takes an optional JSON body (with or without a Content-Type).
    let parsed: Result<RegisterBody, _> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(RegisterBody::default())
    } else {
        serde_json::from_slice(&body)
    };
    let Ok(parsed) = parsed else {
        count("bad_request");
        return error(StatusCode::BAD_REQUEST, "malformed_json_payload");
    };
    let allowfrom = parsed.allowfrom.unwrap_or_default();
    if allowfrom.iter().any(|c| c.parse::<ipnet::IpNet>().is_err() && c.parse::<std::net::IpAddr>().is_err()) {
        count("bad_request");
        return error(StatusCode::BAD_REQUEST, "invalid_allowfrom_cidr");
    }
    if !allowfrom.is_empty() {
        count("bad_request");
        return error(StatusCode::BAD_REQUEST, "allowfrom_unsupported");
    }
    // acme-dns uses UUIDs; 32 hex characters are as unguessable and a valid DNS label.
    let (username, subdomain, password) =
        (generate_secret(), generate_secret(), generate_secret() + &generate_secret());
    let Ok(fulldomain) = zone.child(&subdomain) else { return error(StatusCode::INTERNAL_SERVER_ERROR, "name") };
    let Ok(password_hash) = hash_secret_blocking(password.clone()).await else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "hash");
    };
    let account = AcmeAccount {
        username: username.clone(),
        password_hash,
        subdomain: subdomain.clone(),
        fulldomain: fulldomain.clone(),
        zone,
        created: crate::clock::unix_ms(),
        values_in_order: Vec::new(),
    };
    let span = tracing::info_span!("acme_dns_register", open = how == "open", log_index = tracing::field::Empty);
    match svc.submit(Command::AcmeRegister { account }).instrument(span.clone()).await {
        Ok(c) => {
            span.record("log_index", c.index);
            count(how);
            let body = json!({
                "username": username, "password": password, "fulldomain": fulldomain.as_str(),
                "subdomain": subdomain, "allowfrom": [],
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => {
            count("error");
            super::error::ApiError::from(e).into_response()
        }
    }
}

/// `GET /acme-dns/health` (acme-dns answers 200 with an empty body while it runs).
pub(crate) async fn health(Extension(settings): Extension<Arc<AcmeDnsSettings>>) -> Response {
    if settings.zone.is_none() {
        return error(StatusCode::NOT_FOUND, "acme_dns_disabled");
    }
    ACME_DNS_UPDATES_TOTAL.with_label_values(&["health", "ok"]).inc();
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
pub(crate) struct UpdateBody {
    subdomain: String,
    txt: String,
}

pub(crate) async fn update(
    State(svc): State<Arc<Service>>,
    Extension(settings): Extension<Arc<AcmeDnsSettings>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let span = tracing::info_span!("acme_dns_update", log_index = tracing::field::Empty);
    let result = update_inner(&svc, &settings, &parts, &body).instrument(span).await;
    let label = match &result {
        Ok(_) => "ok",
        Err(Refused::Throttled(_)) => "throttled",
        Err(Refused::Status(s, _)) if *s == StatusCode::UNAUTHORIZED => "unauthorized",
        Err(_) => "error",
    };
    ACME_DNS_UPDATES_TOTAL.with_label_values(&["update", label]).inc();
    match result {
        Ok(txt) => (StatusCode::OK, Json(json!({ "txt": txt }))).into_response(),
        Err(Refused::Throttled(secs)) => super::error::ApiError::throttled(secs).into_response(),
        Err(Refused::Status(status, code)) => error(status, code),
    }
}

/// Why an update was refused: an acme-dns error code, or the brute-force throttle.
enum Refused {
    Status(StatusCode, &'static str),
    Throttled(u64),
}

impl From<(StatusCode, &'static str)> for Refused {
    fn from((status, code): (StatusCode, &'static str)) -> Self {
        Refused::Status(status, code)
    }
}

async fn update_inner(
    svc: &Service,
    settings: &AcmeDnsSettings,
    parts: &Parts,
    body: &[u8],
) -> Result<String, Refused> {
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(user), Some(key)) = (header("x-api-user"), header("x-api-key")) else {
        return Err((StatusCode::UNAUTHORIZED, "forbidden").into());
    };
    let name = format!("acme-dns:{user}");
    super::limits::check(parts, "acme_dns", &name).map_err(Refused::Throttled)?;
    let account = svc.read(|s| s.rfc2136.acme_accounts.get(&user).cloned());
    let phc = account.as_ref().map(|a| a.password_hash.clone());
    let ok = match phc {
        Some(phc) => tokio::task::spawn_blocking(move || verify_hash(&key, &phc)).await.unwrap_or(false),
        None => false,
    };
    let (true, Some(account)) = (ok, account) else {
        crate::metrics::AUTH_FAILURES_TOTAL.with_label_values(&["acme_dns"]).inc();
        super::limits::record_failure(parts, &name);
        return Err((StatusCode::UNAUTHORIZED, "forbidden").into());
    };
    // The body is JSON whatever the Content-Type says (acme.sh sends none).
    let Ok(body) = serde_json::from_slice::<UpdateBody>(body) else {
        return Err((StatusCode::BAD_REQUEST, "malformed_json_payload").into());
    };
    if body.subdomain != account.subdomain {
        return Err((StatusCode::UNAUTHORIZED, "forbidden").into());
    }
    if body.txt.is_empty() || body.txt.len() > 255 {
        return Err((StatusCode::BAD_REQUEST, "bad_txt").into());
    }
    let cmd = Command::AcmeSetTxt {
        username: user,
        txt: body.txt.clone().into_bytes(),
        ttl: TXT_TTL,
        lifetime_ms: settings.txt_lifetime_ms.unwrap_or(DEFAULT_TXT_LIFETIME_MS),
        at: crate::clock::unix_ms(),
    };
    match svc.submit(cmd).await {
        Ok(c) => {
            tracing::Span::current().record("log_index", c.index);
            Ok(body.txt)
        }
        Err(crate::service::SubmitError::Refused(_)) => Err((StatusCode::BAD_REQUEST, "bad_subdomain").into()),
        Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "unavailable").into()),
    }
}

/// Leader-only sweep that proposes `ExpireRecords { at }` when a record's time is up.
pub(crate) async fn expiry(svc: Arc<Service>, settings: Arc<AcmeDnsSettings>, mut stop: watch::Receiver<bool>) {
    let half_life = Duration::from_millis(settings.txt_lifetime_ms.unwrap_or(u64::MAX) / 2);
    let mut tick = tokio::time::interval(half_life.clamp(SWEEP_MIN, SWEEP_MAX));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !svc.is_leader() {
            continue;
        }
        let at = crate::clock::unix_ms();
        if !svc.read(|s| s.rfc2136.expiring.values().any(|e| *e <= at)) {
            continue;
        }
        let span = tracing::info_span!("acme_dns_expiry", at);
        let result = svc.submit(Command::ExpireRecords { at }).instrument(span).await;
        ACME_DNS_EXPIRY_SWEEPS_TOTAL.with_label_values(&[if result.is_ok() { "committed" } else { "failed" }]).inc();
        if let Err(e) = result {
            tracing::warn!(error = %e, "record expiry not committed");
        }
    }
}
