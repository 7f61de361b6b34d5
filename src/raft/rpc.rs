//! The server side of the Raft RPC transport, served on the internal raft port only.
//!
//! Routes (all `POST`, bodies `codec`-encoded):
//! - `/raft/append`   `AppendEntriesRequest`  -> `Result<AppendEntriesResponse, RaftError>`
//! - `/raft/vote`     `VoteRequest`           -> `Result<VoteResponse, RaftError>`
//! - `/raft/snapshot` `InstallSnapshotRequest` (one chunk) -> `Result<InstallSnapshotResponse, RaftError<InstallSnapshotError>>`
//! - `/raft/forward`  `Request`               -> `Result<Response, String>` (a follower's write, run with `client_write`)
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
use hmac::{Hmac, Mac};
use serde::{de::DeserializeOwned, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tracing::Instrument;

use super::types::{Raft, Request, Response};
use crate::{codec, metrics};

/// The header carrying the hex HMAC-SHA256 of the body.
pub const AUTH_HEADER: &str = "x-quorumdns-cluster-auth";

/// Snapshot chunks may be large; every other route keeps a smaller limit.
pub const SNAPSHOT_BODY_LIMIT: usize = 512 * 1024 * 1024;
/// Append batches can carry big entries (a whole zone import); still bounded.
pub const RPC_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The secret shared by the members of a cluster. Never printed.
pub struct ClusterSecret(Vec<u8>);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

impl ClusterSecret {
    pub fn new(secret: Vec<u8>) -> Self {
        Self(secret)
    }

    fn tag(&self, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// The value of [`AUTH_HEADER`] for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        hex::encode(self.tag(body))
    }

    /// Checks a MAC in constant time (for MACs of the right length).
    pub fn verify(&self, body: &[u8], mac_hex: &str) -> bool {
        let Ok(given) = hex::decode(mac_hex.trim()) else {
            return false;
        };
        let expected = self.tag(body);
        given.len() == expected.len() && bool::from(expected.ct_eq(&given))
    }
}

#[derive(Clone)]
struct RpcState {
    raft: Raft,
    secret: Arc<ClusterSecret>,
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
        F: FnOnce(Raft, Req) -> Fut,
        Fut: Future<Output = Resp>,
    {
        let span = tracing::info_span!("raft_rpc", route, bytes = body.len());
        let req: Req = match span.in_scope(|| self.authenticate(&headers, &body)) {
            Ok(req) => req,
            Err(rejection) => return rejection.into_response(),
        };
        let answer = handle(self.raft.clone(), req).instrument(span.clone()).await;
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
pub fn rpc_router(raft: Raft, secret: Arc<ClusterSecret>) -> Router {
    let state = RpcState { raft, secret };
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot).layer(DefaultBodyLimit::max(SNAPSHOT_BODY_LIMIT)))
        .route("/raft/forward", post(forward))
        .layer(DefaultBodyLimit::max(RPC_BODY_LIMIT))
        .with_state(state)
}

async fn append(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("append", headers, body, |raft, req| async move { raft.append_entries(req).await }).await
}

async fn vote(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("vote", headers, body, |raft, req| async move { raft.vote(req).await }).await
}

async fn snapshot(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("snapshot", headers, body, |raft, req| async move { raft.install_snapshot(req).await }).await
}

async fn forward(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    s.serve("forward", headers, body, |raft, req: Request| async move {
        let kind = req.command.kind();
        let answer: Result<Response, String> = match raft.client_write(req).await {
            Ok(resp) => Ok(resp.data),
            Err(e) => Err(e.to_string()),
        };
        tracing::debug!(kind, ok = answer.is_ok(), "forwarded write");
        answer
    })
    .await
}
