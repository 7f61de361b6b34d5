//! `/api/v1/cluster`: status, init, add a learner, promote, remove (admin token). Any node
//! takes these; membership changes run on the leader.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::extract::{JsonBody, Path};
use crate::cluster::{ClusterError, ClusterStatus};
use crate::raft::{MembershipError, MembershipOutcome, NodeId, NodeInfo, Refusal};
use crate::service::Service;

type Api<T> = Result<T, ApiError>;

/// How long `add` waits for a learner to catch up unless told otherwise.
const DEFAULT_CATCH_UP_SECS: u64 = 30;
/// The HTTP layer times requests out at 60 s; stay below.
const MAX_CATCH_UP_SECS: u64 = 50;

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> Self {
        let msg = e.to_string();
        match e {
            ClusterError::Submit(s) => s.into(),
            ClusterError::AlreadyInitialized => ApiError::new(StatusCode::CONFLICT, "already_initialized", msg),
            ClusterError::Invalid(_) => ApiError::bad_request(msg),
            ClusterError::Membership(m) => {
                let (status, code) = match m {
                    MembershipError::DuplicateId(_) => (StatusCode::CONFLICT, "duplicate_id"),
                    MembershipError::DuplicateAddress { .. } => (StatusCode::CONFLICT, "duplicate_address"),
                    MembershipError::RetiredId(_) => (StatusCode::CONFLICT, "retired_id"),
                    MembershipError::AlreadyVoter(_) => (StatusCode::CONFLICT, "already_voter"),
                    MembershipError::LastVoter(_) => (StatusCode::CONFLICT, "last_voter"),
                    MembershipError::UnknownId(_) => (StatusCode::NOT_FOUND, "unknown_node"),
                    MembershipError::Invalid(_) => (StatusCode::BAD_REQUEST, "bad_request"),
                    MembershipError::Refused(Refusal::Fatal(_)) | MembershipError::Failed(_) => {
                        (StatusCode::CONFLICT, "membership_change_failed")
                    }
                    MembershipError::Refused(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                };
                ApiError::new(status, code, msg)
            }
        }
    }
}

fn outcome_json(o: &MembershipOutcome) -> serde_json::Value {
    json!({ "index": o.index, "caught_up": o.caught_up, "voters": o.voters, "learners": o.learners })
}

pub(crate) async fn status(_: Admin, State(svc): State<Arc<Service>>) -> Json<ClusterStatus> {
    Json(svc.cluster_status().await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberIn {
    id: NodeId,
    raft_addr: String,
    http_addr: String,
    #[serde(default)]
    dns_addr: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct InitIn {
    #[serde(default)]
    members: Vec<MemberIn>,
}

pub(crate) async fn init(
    _: Admin,
    State(svc): State<Arc<Service>>,
    body: Option<JsonBody<InitIn>>,
) -> Api<(StatusCode, Json<serde_json::Value>)> {
    let body = body.map(|JsonBody(b)| b).unwrap_or_default();
    let mut members = BTreeMap::new();
    for m in body.members {
        let info = NodeInfo { raft_addr: m.raft_addr, http_addr: m.http_addr, dns_addr: m.dns_addr };
        if members.insert(m.id, info).is_some() {
            return Err(ApiError::new(StatusCode::CONFLICT, "duplicate_id", format!("node {} is listed twice", m.id)));
        }
    }
    let voters = svc.cluster_init(members).await?;
    Ok((StatusCode::CREATED, Json(json!({ "initialized": true, "voters": voters }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddIn {
    id: NodeId,
    raft_addr: String,
    http_addr: String,
    #[serde(default)]
    dns_addr: String,
    /// Seconds to wait for the learner to catch up (0: return at once).
    wait_secs: Option<u64>,
}

pub(crate) async fn add(
    _: Admin,
    State(svc): State<Arc<Service>>,
    body: JsonBody<AddIn>,
) -> Api<(StatusCode, Json<serde_json::Value>)> {
    let JsonBody(b) = body;
    let wait = Duration::from_secs(b.wait_secs.unwrap_or(DEFAULT_CATCH_UP_SECS).min(MAX_CATCH_UP_SECS));
    let info = NodeInfo { raft_addr: b.raft_addr, http_addr: b.http_addr, dns_addr: b.dns_addr };
    let o = svc.cluster_add(b.id, info, wait).await?;
    let status = if o.caught_up { StatusCode::CREATED } else { StatusCode::ACCEPTED };
    Ok((status, Json(outcome_json(&o))))
}

pub(crate) async fn promote(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(id): Path<NodeId>,
) -> Api<Json<serde_json::Value>> {
    Ok(Json(outcome_json(&svc.cluster_promote(id).await?)))
}

pub(crate) async fn remove(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(id): Path<NodeId>,
) -> Api<Json<serde_json::Value>> {
    let o = svc.cluster_remove(id).await?;
    let mut v = outcome_json(&o);
    v["removed"] = json!(id);
    v["retired"] = json!(true);
    Ok(Json(v))
}

/// `POST /api/v1/cluster/cookie-secret`: a new DNS cookie secret for the whole cluster
/// (the previous one stays valid). Admin token.
pub(crate) async fn rotate_cookie_secret(_: Admin, State(svc): State<Arc<Service>>) -> Api<Json<serde_json::Value>> {
    let index = crate::dns::cookie_secret::rotate(&svc).await?;
    Ok(Json(json!({"rotated": true, "log_index": index})))
}
