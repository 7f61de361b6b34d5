//! Operational endpoints: `/livez`, `/readyz` (one line per check), `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::service::Service;

pub async fn livez() -> &'static str {
    "ok\n"
}

/// Ready when a leader is known and this node has applied what it knows to be committed.
pub async fn readyz(State(svc): State<Arc<Service>>) -> impl IntoResponse {
    let report = svc.readiness();
    let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!(report)))
}

pub async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render())
}
