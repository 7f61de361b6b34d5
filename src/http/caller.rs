//! Bearer authentication of the host-management API: the admin token or a user token,
//! plus the JSON helpers those routes share.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use crate::dyndns::update::Principal;
use crate::dyndns::Dyndns;
use crate::state::{ApplyError, Domain, Host, ADMIN_OWNER};

/// The authenticated caller of a management route.
pub(super) struct Caller(pub Principal);

impl Caller {
    pub(super) fn is_admin(&self) -> bool {
        self.0 == Principal::Admin
    }

    /// The owner name hosts created by this caller get.
    pub(super) fn owner(&self) -> String {
        match &self.0 {
            Principal::User(u) => u.clone(),
            _ => ADMIN_OWNER.into(),
        }
    }

    pub(super) fn may_see(&self, h: &Host) -> bool {
        match &self.0 {
            Principal::Admin => true,
            Principal::User(u) => &h.owner == u,
            Principal::Host(f) => &h.fqdn == f,
        }
    }

    pub(super) fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs the admin token"))
        }
    }

    pub(super) fn may_use(&self, d: &Domain, user: Option<&crate::state::User>) -> bool {
        match &self.0 {
            Principal::Admin => true,
            Principal::User(_) => user.is_some_and(|u| d.usable_by(Some(u))),
            Principal::Host(_) => false,
        }
    }
}

impl FromRequestParts<Arc<Dyndns>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, d: &Arc<Dyndns>) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string());
        let name = super::limits::bearer_name(token.as_deref().unwrap_or(""));
        if let Err(secs) = super::limits::check(parts, "bearer_token", &name) {
            return Err(ApiError::throttled(secs));
        }
        if let Some(t) = token {
            if let Some(p) = d.verify_bearer(&t).await {
                return Ok(Caller(p));
            }
            super::limits::record_failure(parts, &name);
        }
        crate::metrics::AUTH_FAILURES_TOTAL.with_label_values(&["bearer_token"]).inc();
        Err(ApiError::unauthorized())
    }
}

/// Status and code of registry refusals (the zone ones are mapped by `ApiError`).
pub(super) fn registry_error(e: ApplyError) -> ApiError {
    let (status, code) = match &e {
        ApplyError::NoSuchHost(_) => (StatusCode::NOT_FOUND, "no_such_host"),
        ApplyError::NoSuchUser(_) => (StatusCode::NOT_FOUND, "no_such_user"),
        ApplyError::NoSuchToken(_) => (StatusCode::NOT_FOUND, "no_such_token"),
        ApplyError::NoSuchDomain(_) => (StatusCode::NOT_FOUND, "no_such_domain"),
        ApplyError::HostExists(_) | ApplyError::UserExists(_) | ApplyError::NameInUse(_) => {
            (StatusCode::CONFLICT, "exists")
        }
        ApplyError::DomainNotAllowed { .. } => (StatusCode::FORBIDDEN, "domain_not_allowed"),
        _ => return e.into(),
    };
    ApiError::new(status, code, e.to_string())
}

pub(super) fn submit_error(e: crate::service::SubmitError) -> ApiError {
    match e {
        crate::service::SubmitError::Refused(a) => registry_error(a),
        other => other.into(),
    }
}

/// The EGI API's error shape: `{"status": "error", "message": ...}` (plus our `error` code).
pub(super) struct EgiError(pub ApiError);

impl From<ApiError> for EgiError {
    fn from(e: ApiError) -> Self {
        EgiError(e)
    }
}

impl IntoResponse for EgiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut r = (e.status, Json(serde_json::json!({"status": "error", "error": e.code, "message": e.message})))
            .into_response();
        if e.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        if e.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        if let (StatusCode::TOO_MANY_REQUESTS, Some(secs)) = (e.status, e.retry_after) {
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from(secs.max(1)));
        }
        r
    }
}

/// RFC 3339 UTC with microseconds, as the EGI service prints times.
pub(super) fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        (ms % 1000) * 1000
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(super::rfc3339(1_760_354_691_165), "2025-10-13T11:24:51.165000+00:00");
    }
}
