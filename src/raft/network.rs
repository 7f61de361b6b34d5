//! The client side of the Raft RPC transport: HTTP POSTs of `codec`-encoded bodies to a
//! peer's raft port (see [`super::rpc`] for the routes), signed with the cluster secret.
//!
//! Snapshots go through openraft's chunked `install_snapshot` (the default `full_snapshot`
//! of openraft 0.9 splits a `Cursor<Vec<u8>>` into chunks of `snapshot_max_chunk_size`).

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::RPCTypes;
use serde::{de::DeserializeOwned, Serialize};

use super::auth::{ClusterSecret, AUTH_HEADER};
use super::health::{Health, NodeStatus};
use super::membership::{MembershipChange, MembershipError, MembershipOutcome, Refusal};
use super::types::{NodeId, NodeInfo, Request, Response, TypeConfig};
use crate::codec::{self, CodecError};

/// Why an RPC got no decodable answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("peer answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("http: {0}")]
    Http(String),
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
}

/// Why a forwarded write failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("forwarding to the leader failed: {0}")]
    Transport(#[from] TransportError),
    /// The leader did not take the write (for example it is not the leader any more).
    #[error("the leader refused the write: {0}")]
    Remote(#[from] Refusal),
}

/// A signed HTTP client for the raft port. Cheap to clone; shares one keep-alive pool.
#[derive(Clone, Debug)]
pub struct RpcClient {
    http: reqwest::Client,
    secret: Arc<ClusterSecret>,
    timeout: Duration,
    health: Option<Arc<Health>>,
}

impl RpcClient {
    /// A client that also reports to `health`: a peer answering 410 Gone means this node
    /// was removed, and the health's partition switch cuts every call.
    pub fn with_health(mut self, health: Arc<Health>) -> Self {
        self.health = Some(health);
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn new(secret: Arc<ClusterSecret>, timeout: Duration) -> Result<Self, TransportError> {
        let http = reqwest::Client::builder()
            // Peers are on the internal network; an environment proxy must not see raft traffic.
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| TransportError::Http(e.to_string()))?;
        Ok(Self { http, secret, timeout, health: None })
    }

    /// POSTs `req` to `http://{addr}/raft/{route}` and decodes the answer.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        route: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, TransportError> {
        if self.health.as_ref().is_some_and(|h| h.partition.is_isolated()) {
            return Err(TransportError::Connect {
                addr: addr.to_string(),
                message: "partitioned (test switch)".into(),
            });
        }
        let body = codec::encode(req)?;
        let mac = self.secret.sign(&body);
        let url = format!("http://{addr}/raft/{route}");
        let sent = self.http.post(&url).header(AUTH_HEADER, mac).timeout(timeout).body(body).send().await;
        let resp = sent.map_err(|e| classify(addr, timeout, e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| classify(addr, timeout, e))?;
        if status == reqwest::StatusCode::GONE {
            if let Some(h) = &self.health {
                if h.mark_removed() {
                    tracing::error!(
                        peer = addr,
                        "this node was removed from the cluster: it stops campaigning and serving writes"
                    );
                }
            }
        }
        if !status.is_success() {
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(TransportError::Status { status: status.as_u16(), body });
        }
        Ok(codec::decode(&bytes)?)
    }

    /// Sends a write to the leader's `/raft/forward`, which runs it with `client_write`.
    pub async fn forward_to(&self, leader: &NodeInfo, req: &Request) -> Result<Response, ForwardError> {
        self.forward_within(leader, req, self.timeout).await
    }

    /// [`Self::forward_to`] with its own deadline (a write may take longer than one RPC).
    pub async fn forward_within(
        &self,
        leader: &NodeInfo,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, ForwardError> {
        let answer: Result<Response, Refusal> = self.call(&leader.raft_addr, "forward", req, timeout).await?;
        Ok(answer?)
    }

    /// Asks the leader for its linearizable read index.
    pub async fn read_index(&self, leader: &NodeInfo, timeout: Duration) -> Result<u64, ForwardError> {
        let answer: Result<u64, Refusal> = self.call(&leader.raft_addr, "read_index", &(), timeout).await?;
        Ok(answer?)
    }

    /// Runs a membership change on the leader.
    pub async fn membership(
        &self,
        leader: &NodeInfo,
        change: &MembershipChange,
        timeout: Duration,
    ) -> Result<Result<MembershipOutcome, MembershipError>, TransportError> {
        self.call(&leader.raft_addr, "membership", change, timeout).await
    }

    /// A peer's own status.
    pub async fn status(&self, raft_addr: &str, timeout: Duration) -> Result<NodeStatus, TransportError> {
        self.call(raft_addr, "status", &(), timeout).await
    }

    /// The newest data format a peer understands; a peer of the first release (no
    /// `/raft/version`, 404) is at format 1.
    pub async fn format_version(&self, raft_addr: &str, timeout: Duration) -> Result<u8, TransportError> {
        match self.call(raft_addr, "version", &(), timeout).await {
            Err(TransportError::Status { status: 404, .. }) => Ok(1),
            other => other,
        }
    }
}

fn classify(addr: &str, timeout: Duration, e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout(timeout)
    } else if e.is_connect() {
        TransportError::Connect { addr: addr.to_string(), message: e.to_string() }
    } else {
        TransportError::Http(e.to_string())
    }
}

/// Creates one [`Network`] per target peer.
#[derive(Clone, Debug)]
pub struct NetworkFactory {
    node_id: NodeId,
    client: RpcClient,
}

impl NetworkFactory {
    pub fn new(node_id: NodeId, client: RpcClient) -> Self {
        Self { node_id, client }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> Self::Network {
        Network { node_id: self.node_id, target, addr: node.raft_addr.clone(), client: self.client.clone() }
    }
}

/// The connection to one peer.
pub struct Network {
    node_id: NodeId,
    target: NodeId,
    addr: String,
    client: RpcClient,
}

impl Network {
    async fn send<Req, Resp, E>(
        &self,
        action: RPCTypes,
        route: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<NodeId, NodeInfo, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Resp, E> = match self.client.call(&self.addr, route, req, timeout).await {
            Ok(answer) => answer,
            Err(e @ TransportError::Connect { .. }) | Err(e @ TransportError::Status { status: 410 | 503, .. }) => {
                rpc_error(route, "unreachable");
                return Err(RPCError::Unreachable(Unreachable::new(&e)));
            }
            Err(TransportError::Timeout(timeout)) => {
                rpc_error(route, "timeout");
                return Err(RPCError::Timeout(Timeout { action, id: self.node_id, target: self.target, timeout }));
            }
            Err(e) => {
                rpc_error(route, "network");
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
        };
        answer.map_err(|e| {
            rpc_error(route, "remote");
            RPCError::RemoteError(RemoteError::new(self.target, e))
        })
    }
}

fn rpc_error(route: &str, kind: &str) {
    crate::metrics::RAFT_RPC_ERRORS_TOTAL.with_label_values(&[route, kind]).inc();
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        self.send(RPCTypes::AppendEntries, "append", &rpc, self.client.timeout).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>>
    {
        let timeout = self.client.timeout.max(option.hard_ttl());
        let last_chunk = rpc.done;
        let answer = self.send(RPCTypes::InstallSnapshot, "snapshot", &rpc, timeout).await;
        if last_chunk {
            // The snapshot read for this peer and its chunk copies are freed soon.
            crate::heap::release_soon();
        }
        answer
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        self.send(RPCTypes::Vote, "vote", &rpc, self.client.timeout).await
    }
}
