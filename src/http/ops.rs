//! Operational endpoints: `/livez`, `/readyz` (one line per check), `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::service::Service;

pub(super) async fn livez() -> &'static str {
    "ok\n"
}

/// Ready when a leader is known and this node has applied what it knows to be committed.
pub(super) async fn readyz(State(svc): State<Arc<Service>>) -> impl IntoResponse {
    let report = svc.readiness();
    let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!(report)))
}

pub(super) async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render())
}

/// `GET /api/v1/backup` (admin token): a backup file of this node's applied state (see
/// `ops::backup`), built from a snapshot taken for the purpose.
pub(super) async fn backup(_: super::auth::Admin, State(svc): State<Arc<Service>>) -> axum::response::Response {
    match crate::ops::backup::take(svc.raft_node(), svc.write_timeout()).await {
        Ok(bytes) => {
            crate::metrics::BACKUPS_TOTAL.with_label_values(&["ok"]).inc();
            let headers = [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"quorumdns.backup\""),
            ];
            (headers, bytes).into_response()
        }
        Err(e) => {
            crate::metrics::BACKUPS_TOTAL.with_label_values(&["error"]).inc();
            tracing::error!(error = %e, "backup failed");
            super::error::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "backup_failed", e.to_string()).into_response()
        }
    }
}
