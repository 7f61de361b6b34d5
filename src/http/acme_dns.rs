//! An acme-dns compatible API (github.com/joohoi/acme-dns) under `/acme-dns`, for ACME
//! clients that speak it instead of RFC 2136 (lego, acme.sh, cert-manager, certbot hooks).
//!
//! - `POST /acme-dns/register` (admin bearer token) creates an account and answers
//!   `{username, password, fulldomain, subdomain, allowfrom}` once; the password is kept
//!   as an argon2id hash.
//! - `POST /acme-dns/update` with `X-Api-User` / `X-Api-Key` and `{subdomain, txt}` sets
//!   the TXT RRset of `<subdomain>.<zone>` to its two most recent values, which expire
//!   through the log `acme_dns_txt_lifetime_secs` after their last update (default 24 h;
//!   a leader sweep proposes `ExpireRecords`, like dyndns host expiry).
//!
//! The zone is the first `[[zone]]` with `acme_dns = true`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
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
}

/// Unless configured: a TXT value lives a day after its last update.
const DEFAULT_TXT_LIFETIME_MS: u64 = 24 * 3600 * 1000;

pub(crate) async fn register(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Extension(settings): Extension<Arc<AcmeDnsSettings>>,
) -> Response {
    let Some(zone) = settings.zone.clone() else { return error(StatusCode::NOT_FOUND, "acme_dns_disabled") };
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
    match svc.submit(Command::AcmeRegister { account }).await {
        Ok(_) => {
            ACME_DNS_UPDATES_TOTAL.with_label_values(&["register", "ok"]).inc();
            let body = json!({
                "username": username, "password": password, "fulldomain": fulldomain.as_str(),
                "subdomain": subdomain, "allowfrom": [],
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct UpdateBody {
    subdomain: String,
    txt: String,
}

pub(crate) async fn update(
    State(svc): State<Arc<Service>>,
    Extension(settings): Extension<Arc<AcmeDnsSettings>>,
    headers: HeaderMap,
    body: Result<Json<UpdateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let result = update_inner(&svc, &settings, &headers, body).await;
    let label = match &result {
        Ok(_) => "ok",
        Err((s, _)) if *s == StatusCode::UNAUTHORIZED => "unauthorized",
        Err(_) => "error",
    };
    ACME_DNS_UPDATES_TOTAL.with_label_values(&["update", label]).inc();
    match result {
        Ok(txt) => (StatusCode::OK, Json(json!({ "txt": txt }))).into_response(),
        Err((status, code)) => error(status, code),
    }
}

async fn update_inner(
    svc: &Service,
    settings: &AcmeDnsSettings,
    headers: &HeaderMap,
    body: Result<Json<UpdateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<String, (StatusCode, &'static str)> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(user), Some(key)) = (header("x-api-user"), header("x-api-key")) else {
        return Err((StatusCode::UNAUTHORIZED, "forbidden"));
    };
    let account = svc.read(|s| s.rfc2136.acme_accounts.get(&user).cloned());
    let Some(account) = account else { return Err((StatusCode::UNAUTHORIZED, "forbidden")) };
    let phc = account.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_hash(&key, &phc)).await.unwrap_or(false);
    if !ok {
        crate::metrics::AUTH_FAILURES_TOTAL.with_label_values(&["acme_dns"]).inc();
        return Err((StatusCode::UNAUTHORIZED, "forbidden"));
    }
    let Ok(Json(body)) = body else { return Err((StatusCode::BAD_REQUEST, "malformed_json_payload")) };
    if body.subdomain != account.subdomain {
        return Err((StatusCode::UNAUTHORIZED, "forbidden"));
    }
    if body.txt.is_empty() || body.txt.len() > 255 {
        return Err((StatusCode::BAD_REQUEST, "bad_txt"));
    }
    let cmd = Command::AcmeSetTxt {
        username: user,
        txt: body.txt.clone().into_bytes(),
        ttl: TXT_TTL,
        lifetime_ms: settings.txt_lifetime_ms.unwrap_or(DEFAULT_TXT_LIFETIME_MS),
        at: crate::clock::unix_ms(),
    };
    match svc.submit(cmd).await {
        Ok(_) => Ok(body.txt),
        Err(crate::service::SubmitError::Refused(_)) => Err((StatusCode::BAD_REQUEST, "bad_subdomain")),
        Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "unavailable")),
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
