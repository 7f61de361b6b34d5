//! The server side of the Raft RPC transport, served on the internal raft port only.
//!
//! Routes (all `POST`, bodies `codec`-encoded):
//! - `/raft/append`   `AppendEntriesRequest`  -> `Result<AppendEntriesResponse, RaftError>`
//! - `/raft/vote`     `VoteRequest`           -> `Result<VoteResponse, RaftError>`
//! - `/raft/snapshot` `InstallSnapshotRequest` (one chunk) -> `Result<InstallSnapshotResponse, RaftError<InstallSnapshotError>>`
//! - `/raft/forward`  `Request`               -> `Result<Response, Refusal>` (a follower's write, run with `client_write`)
//! - `/raft/forward_group` `Vec<Command>`   -> `Vec<Result<Response, Refusal>>` (a follower's batch of groupable updates, see [`super::group`])
//! - `/raft/read_index` `()`                  -> `Result<u64, Refusal>` (the leader's linearizable read index)
//! - `/raft/membership` `MembershipChange`    -> `Result<MembershipOutcome, MembershipError>` (run on the leader)
//! - `/raft/status`   `()`                    -> `NodeStatus`
//! - `/raft/version`  `()`                    -> `u8`, the newest data format this node understands (format 2; absent in format 1)
//!
//! A vote request from a node id that was retired (removed from the cluster) is answered
//! 410 Gone, so a removed node that comes back learns it was removed; a vote request from a
//! node that is not a voter of this node's membership is refused without reaching Raft.
//!
//! Every request carries [`AUTH_HEADER`] = hex HMAC-SHA256(cluster secret, body). A missing
//! or wrong MAC is refused with 401, an undecodable body with 400; neither reaches Raft.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use axum::Router;
use serde::{de::DeserializeOwned, Serialize};
use tracing::Instrument;

use openraft::raft::{VoteRequest, VoteResponse};

use super::auth::{ClusterSecret, AUTH_HEADER};
use super::health::{local_status, Health};
use super::membership::{self, MembershipChange, Refusal};
use super::state_machine::StateHandle;
use super::types::{NodeId, Raft, Request, TypeConfig};
use crate::state::Command;
use crate::{codec, metrics};

/// The longest a forwarded write or membership change may run on the leader.
pub const LEADER_WORK_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Snapshot chunks may be large; every other route keeps a smaller limit.
pub const SNAPSHOT_BODY_LIMIT: usize = 512 * 1024 * 1024;
/// Append batches can carry big entries (a whole zone import); still bounded.
pub const RPC_BODY_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct RpcState {
    raft: Raft,
    secret: Arc<ClusterSecret>,
    health: Arc<Health>,
    state: StateHandle,
    group: super::group::GroupWriter,
}

/// Why a request never reached Raft.
#[derive(Debug)]
enum Rejection {
    Auth(&'static str),
    Decode(String),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> HttpResponse {
        match self {
            Rejection::Auth(why) => (StatusCode::UNAUTHORIZED, why).into_response(),
            Rejection::Decode(why) => (StatusCode::BAD_REQUEST, why).into_response(),
        }
    }
}

impl RpcState {
    /// Authenticates and decodes without counting or logging (a peek before `serve`).
    fn authenticate_quiet<T: DeserializeOwned>(&self, headers: &HeaderMap, body: &[u8]) -> Result<T, ()> {
        let mac = headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok()).ok_or(())?;
        if !self.secret.verify(body, mac) {
            return Err(());
        }
        codec::decode(body).map_err(|_| ())
    }

    fn authenticate<T: DeserializeOwned>(&self, headers: &HeaderMap, body: &[u8]) -> Result<T, Rejection> {
        let mac = headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok());
        let rejection = match mac {
            None => Rejection::Auth("missing cluster MAC"),
            Some(mac) if !self.secret.verify(body, mac) => Rejection::Auth("bad cluster MAC"),
            Some(_) => match codec::decode(body) {
                Ok(value) => return Ok(value),
                Err(e) => Rejection::Decode(format!("undecodable body: {e}")),
            },
        };
        let reason = match rejection {
            Rejection::Auth(_) => "auth",
            Rejection::Decode(_) => "decode",
        };
        metrics::RAFT_RPC_REJECTED_TOTAL.with_label_values(&[reason]).inc();
        tracing::warn!(reason, "refused a raft RPC");
        Err(rejection)
    }

    /// Authenticates and decodes the body, runs `handle` inside a span, encodes its answer.
    async fn serve<Req, Resp, F, Fut>(
        &self,
        route: &'static str,
        headers: HeaderMap,
        body: Bytes,
        handle: F,
    ) -> HttpResponse
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        F: FnOnce(RpcState, Req) -> Fut,
        Fut: Future<Output = Resp>,
    {
        let span = tracing::info_span!("raft_rpc", route, bytes = body.len());
        if self.health.partition.is_isolated() {
            return (StatusCode::SERVICE_UNAVAILABLE, "partitioned (test switch)").into_response();
        }
        let req: Req = match span.in_scope(|| self.authenticate(&headers, &body)) {
            Ok(req) => req,
            Err(rejection) => return rejection.into_response(),
        };
        let answer = handle(self.clone(), req).instrument(span.clone()).await;
        if matches!(route, "forward" | "forward_group") && self.health.partition.take_lost_answer() {
            return (StatusCode::SERVICE_UNAVAILABLE, "answer lost (test switch)").into_response();
        }
        match codec::encode(&answer) {
            Ok(bytes) => (StatusCode::OK, bytes).into_response(),
            Err(e) => {
                span.in_scope(|| tracing::error!(error = %e, "cannot encode a raft RPC answer"));
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// The internal Raft RPC router. Serve it on the raft port only, never on the public one.
pub fn rpc_router(
    raft: Raft,
    secret: Arc<ClusterSecret>,
    health: Arc<Health>,
    state: StateHandle,
    group: super::group::GroupWriter,
) -> Router {
    let state = RpcState { raft, secret, health, state, group };
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot).layer(DefaultBodyLimit::max(SNAPSHOT_BODY_LIMIT)))
        .route("/raft/forward", post(forward))
        .route("/raft/forward_group", post(forward_group))
        .route("/raft/read_index", post(read_index))
        .route("/raft/membership", post(membership_change))
        .route("/raft/status", post(status))
        .route("/raft/version", post(version))
        .layer(DefaultBodyLimit::max(RPC_BODY_LIMIT))
        .with_state(state)
}

async fn append(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    if s.health.partition.refuses_appends() {
        return (StatusCode::SERVICE_UNAVAILABLE, "appends refused (test switch)").into_response();
    }
    s.serve("append", headers, body, |s, req| async move {
        let answer = s.raft.append_entries(req).await;
        if answer.is_ok() {
            s.health.leader_contact();
        }
        answer
    })
    .await
}

/// Why a vote request is not passed to Raft.
fn vote_gate(s: &RpcState, req: &VoteRequest<NodeId>) -> Option<HttpResponse> {
    let candidate = req.vote.leader_id().node_id;
    if s.state.read(|st| st.retired_nodes.contains(&candidate)) {
        metrics::RAFT_RPC_REJECTED_TOTAL.with_label_values(&["retired"]).inc();
        tracing::warn!(candidate, "vote request from a removed node refused");
        return Some((StatusCode::GONE, format!("node {candidate} was removed from this cluster")).into_response());
    }
    let m = s.raft.metrics().borrow().membership_config.clone();
    let membership = m.membership();
    let initialized = membership.voter_ids().next().is_some();
    if initialized && !membership.voter_ids().any(|v| v == candidate) {
        metrics::RAFT_RPC_REJECTED_TOTAL.with_label_values(&["not_a_voter"]).inc();
        tracing::info!(candidate, "vote request from a node that is not a voter refused");
        let vote = s.raft.metrics().borrow().vote;
        let last = s.raft.data_metrics().borrow().last_log;
        let answer: Result<VoteResponse<NodeId>, openraft::error::RaftError<NodeId>> =
            Ok(VoteResponse::new(vote, last, false));
        return Some(match codec::encode(&answer) {
            Ok(bytes) => (StatusCode::OK, bytes).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        });
    }
    None
}

async fn vote(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    if !s.health.partition.is_isolated() {
        if let Ok(req) = s.authenticate_quiet::<VoteRequest<NodeId>>(&headers, &body) {
            if let Some(refused) = vote_gate(&s, &req) {
                return refused;
            }
        }
    }
    s.serve("vote", headers, body, |s, req| async move { s.raft.vote(req).await }).await
}

async fn snapshot(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("snapshot", headers, body, |s, req: openraft::raft::InstallSnapshotRequest<TypeConfig>| async move {
        let last_chunk = req.done;
        let answer = s.raft.install_snapshot(req).await;
        if answer.is_ok() {
            s.health.leader_contact();
            if last_chunk {
                s.health.partition.snapshot_installed();
            }
        }
        answer
    })
    .await
}

async fn forward(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("forward", headers, body, |s, req: Request| async move {
        let kind = req.command.kind();
        let answer = if super::group::groupable(&req.command) {
            s.group.write(req.command).await
        } else {
            membership::leader_write(&s.raft, req, LEADER_WORK_LIMIT).await
        };
        tracing::debug!(kind, ok = answer.is_ok(), "forwarded write");
        answer
    })
    .await
}

async fn forward_group(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("forward_group", headers, body, |s, commands: Vec<Command>| async move {
        if commands.len() > super::group::MAX_GROUP || !commands.iter().all(super::group::groupable) {
            let e = Refusal::Fatal(format!(
                "a forwarded batch holds at most {} groupable updates",
                super::group::MAX_GROUP
            ));
            return vec![Err(e); commands.len()];
        }
        let answers = s.group.write_forwarded(commands).await;
        tracing::debug!(commands = answers.len(), ok = answers.iter().filter(|a| a.is_ok()).count(), "forwarded batch");
        answers
    })
    .await
}

async fn read_index(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("read_index", headers, body, |s, (): ()| async move {
        let answer: Result<u64, Refusal> = membership::leader_read_index(&s.raft).await;
        answer
    })
    .await
}

async fn membership_change(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("membership", headers, body, |s, change: MembershipChange| async move {
        membership::leader_change(&s.raft, &s.state, change, LEADER_WORK_LIMIT).await
    })
    .await
}

/// The newest data format this binary reads and writes (`codec::FORMAT_VERSION`). A node of
/// the first release has no such route (404): it is at format 1.
async fn version(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("version", headers, body, |_, (): ()| async move { codec::FORMAT_VERSION }).await
}

async fn status(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("status", headers, body, |s, (): ()| async move { local_status(&s.raft, &s.health) }).await
}
