//! The one place where errors become HTTP answers for the JSON API: a status code and a
//! body `{"error": "<code>", "message": "<what was wrong>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::service::SubmitError;
use crate::state::ApplyError;

#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` seconds of a 429 or 503 (defaults: 60 and 2).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// Too many failed authentications from this address (src/http/limits.rs).
    pub(crate) fn throttled(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_auth_failures",
            format!(
                "too many failed authentications of this credential from this address; retry in {retry_after_secs} s"
            ),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }
    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(json!({ "error": self.code, "message": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        let retry_after = match self.status {
            StatusCode::SERVICE_UNAVAILABLE => Some(self.retry_after.unwrap_or(2)),
            StatusCode::TOO_MANY_REQUESTS => Some(self.retry_after.unwrap_or(60)),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert("retry-after", axum::http::HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        let (status, code) = match &e {
            ApplyError::NoSuchZone(_) => (StatusCode::NOT_FOUND, "no_such_zone"),
            ApplyError::ZoneExists(_) => (StatusCode::CONFLICT, "zone_exists"),
            ApplyError::ZoneOverlap { .. } => (StatusCode::CONFLICT, "zone_overlap"),
            ApplyError::CnameConflict(_) | ApplyError::CnameAtApex(_) => (StatusCode::CONFLICT, "cname_conflict"),
            ApplyError::ApexNsRequired(_) => (StatusCode::CONFLICT, "apex_ns_required"),
            ApplyError::OutOfZone { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "out_of_zone"),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Refused(a) => a.into(),
            SubmitError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            SubmitError::Internal(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
        }
    }
}
