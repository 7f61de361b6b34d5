//! Bearer-token authentication for the management API.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::service::Service;

/// Proof that the request carried the admin bearer token.
pub(crate) struct Admin;

impl FromRequestParts<Arc<Service>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &Arc<Service>) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let name = super::limits::bearer_name(token.unwrap_or(""));
        if let Err(secs) = super::limits::check(parts, "admin_token", &name) {
            return Err(ApiError::throttled(secs));
        }
        match token {
            Some(t) if svc.is_admin_token(t.as_bytes()) => Ok(Admin),
            _ => {
                crate::metrics::AUTH_FAILURES_TOTAL.with_label_values(&["admin_token"]).inc();
                if token.is_some() {
                    super::limits::record_failure(parts, &name);
                }
                Err(ApiError::unauthorized())
            }
        }
    }
}
