//! RaftNode stories: restart, snapshot + purge + restore, RPC authentication, a 3-node
//! cluster on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode};
use openraft::raft::{VoteRequest, VoteResponse};
use openraft::Vote;
use tower::ServiceExt;

use super::testutil::*;
use super::*;
use crate::metrics;

const WAIT: Duration = Duration::from_secs(20);
const SECRET: &[u8] = b"test cluster secret";

fn settings(dir: &Path, node_id: NodeId) -> RaftSettings {
    RaftSettings {
        node_id,
        data_dir: dir.to_path_buf(),
        cluster_secret: SECRET.to_vec(),
        cluster: crate::raft::config::ClusterConfig {
            heartbeat_ms: 100,
            election_timeout_min_ms: 600,
            election_timeout_max_ms: 1200,
            rpc_timeout_ms: 2000,
            snapshot_every: 10_000,
            stale_after_ms: 2000,
            ..Default::default()
        },
        partition: PartitionSwitch::default(),
    }
}

fn info(raft_addr: &str) -> NodeInfo {
    NodeInfo { raft_addr: raft_addr.into(), http_addr: String::new(), dns_addr: String::new() }
}

async fn wait_leader(node: &RaftNode) -> NodeId {
    let m = node.raft.wait(Some(WAIT)).metrics(|m| m.current_leader.is_some(), "a leader").await.unwrap();
    m.current_leader.unwrap()
}

/// Writes a zone and `n` host updates; returns the index of the last acknowledged write.
async fn write_some(node: &RaftNode, zone: &str, from: u8, n: u8) -> u64 {
    let mut last = 0;
    for i in from..from + n {
        let resp = node.write(set_a(zone, &format!("h{i}"), i)).await.unwrap();
        assert!(resp.result.is_ok(), "{:?}", resp.result);
        last = resp.index;
    }
    last
}

async fn single_node(dir: &Path, observer: Arc<RecordingObserver>) -> RaftNode {
    let node = open(settings(dir, 1), observer).await.unwrap();
    node.initialize_single(info("127.0.0.1:1")).await.unwrap();
    wait_leader(&node).await;
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = single_node(dir.path(), RecordingObserver::new()).await;
    node.write(create_zone("dyn.test")).await.unwrap().result.unwrap();
    let last = write_some(&node, "dyn.test", 1, 20).await;
    let before = node.state.cloned();
    assert_eq!(before.zones.len(), 1);
    node.shutdown().await.unwrap();
    drop(node);

    let observer = RecordingObserver::new();
    let node = open(settings(dir.path(), 1), observer.clone()).await.unwrap();
    node.initialize_single(info("127.0.0.1:1")).await.unwrap(); // idempotent
    let applied = node.wait_applied(last, WAIT).await.unwrap();
    assert!(applied >= last);
    assert_eq!(node.state.cloned(), before, "zones and serials are back");
    assert_eq!(observer.calls()[0], (None, 0), "start without a snapshot publishes an empty state first");

    // The node keeps working after the restart, with the serial moving forward.
    let resp = node.write(set_a("dyn.test", "after", 99)).await.unwrap();
    assert!(resp.index > last);
    let serial = |s: &crate::state::State| s.zones[&fqdn("dyn.test")].serial;
    assert!(node.state.read(serial).is_after(serial(&before)));
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_the_snapshot_and_replays_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let node = single_node(dir.path(), RecordingObserver::new()).await;
    node.write(create_zone("dyn.test")).await.unwrap().result.unwrap();
    let at_snapshot = write_some(&node, "dyn.test", 1, 40).await;

    node.raft.trigger().snapshot().await.unwrap();
    let m = node
        .raft
        .wait(Some(WAIT))
        .metrics(|m| m.snapshot.is_some_and(|s| s.index >= at_snapshot), "snapshot built")
        .await
        .unwrap();
    let snapshot_index = m.snapshot.unwrap().index;
    let purged_at_least = snapshot_index - LOGS_KEPT_AFTER_SNAPSHOT;
    node.raft
        .wait(Some(WAIT))
        .metrics(|m| m.purged.is_some_and(|p| p.index >= purged_at_least), "log purged behind the snapshot")
        .await
        .unwrap();

    let last = write_some(&node, "dyn.test", 100, 5).await;
    let before = node.state.cloned();
    node.shutdown().await.unwrap();
    drop(node);

    let observer = RecordingObserver::new();
    let node = open(settings(dir.path(), 1), observer.clone()).await.unwrap();
    // The early log is gone: only the snapshot can have brought those zones back.
    node.raft
        .wait(Some(WAIT))
        .metrics(|m| m.purged.is_some_and(|p| p.index >= purged_at_least), "purge point persisted")
        .await
        .unwrap();
    assert_eq!(observer.calls()[0], (None, snapshot_index), "restored from the snapshot first");
    node.wait_applied(last, WAIT).await.unwrap();
    assert_eq!(node.state.cloned(), before);
    node.shutdown().await.unwrap();
}

fn signed(uri: &str, body: Vec<u8>, mac: Option<String>) -> HttpRequest<Body> {
    let mut b = HttpRequest::post(uri);
    if let Some(mac) = mac {
        b = b.header(AUTH_HEADER, mac);
    }
    b.body(Body::from(body)).unwrap()
}

fn rejected(reason: &str) -> u64 {
    metrics::RAFT_RPC_REJECTED_TOTAL.with_label_values(&[reason]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_without_a_valid_mac_or_body_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(settings(dir.path(), 1), RecordingObserver::new()).await.unwrap();
    let router = node.rpc_router();
    let secret = ClusterSecret::new(SECRET.to_vec());
    // Read the vote from the Raft core itself (metrics are published asynchronously).
    let vote = || async { node.raft.with_raft_state(|st| *st.vote_ref()).await.unwrap() };
    let vote_before = vote().await;
    let body = crate::codec::encode(&VoteRequest::<NodeId>::new(Vote::new(7, 2), None)).unwrap();
    let (auth0, decode0) = (rejected("auth"), rejected("decode"));

    let cases = [
        ("no MAC", signed("/raft/vote", body.clone(), None), StatusCode::UNAUTHORIZED),
        (
            "wrong key",
            signed("/raft/vote", body.clone(), Some(ClusterSecret::new(b"other".to_vec()).sign(&body))),
            StatusCode::UNAUTHORIZED,
        ),
        ("MAC of another body", signed("/raft/vote", body.clone(), Some(secret.sign(b"x"))), StatusCode::UNAUTHORIZED),
        ("not hex", signed("/raft/append", body.clone(), Some("zz".into())), StatusCode::UNAUTHORIZED),
        (
            "garbage body",
            signed("/raft/append", b"garbage".to_vec(), Some(secret.sign(b"garbage"))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "vote body on append",
            signed("/raft/append", body.clone(), Some(secret.sign(&body))),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, req, want) in cases {
        let resp = router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), want, "{what}");
    }
    assert_eq!(rejected("auth") - auth0, 4);
    assert_eq!(rejected("decode") - decode0, 2);
    assert_eq!(vote().await, vote_before, "refused RPCs reached raft");

    let resp = router.oneshot(signed("/raft/vote", body.clone(), Some(secret.sign(&body)))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let answer: Result<VoteResponse<NodeId>, openraft::error::RaftError<NodeId>> =
        crate::codec::decode(&bytes).unwrap();
    assert!(answer.unwrap().vote_granted, "a signed vote request is served");
    assert_eq!(vote().await, Vote::new(7, 2));
    node.shutdown().await.unwrap();
}

struct Member {
    node: RaftNode,
    info: NodeInfo,
    listener: Option<tokio::net::TcpListener>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Member {
    fn serve(&mut self) {
        if let Some(listener) = self.listener.take() {
            let router = self.node.rpc_router();
            self.server = Some(tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }));
        }
    }
}

async fn cluster(n: u64) -> Vec<Member> {
    let mut members = Vec::new();
    for id in 1..=n {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let info = info(&listener.local_addr().unwrap().to_string());
        let node = open(settings(dir.path(), id), RecordingObserver::new()).await.unwrap();
        members.push(Member { node, info, listener: Some(listener), server: None, _dir: dir });
    }
    members
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_converge_on_three_nodes_and_followers_forward_to_the_leader() {
    let mut members = cluster(3).await;
    // Node 3 stays offline at first, so it has to catch up later from a snapshot.
    members[0].serve();
    members[1].serve();
    let voters: BTreeMap<_, _> = members.iter().map(|m| (m.node.node_id, m.info.clone())).collect();
    members[0].node.initialize(voters).await.unwrap();
    let leader_id = wait_leader(&members[0].node).await;
    let leader = &members[(leader_id - 1) as usize];

    leader.node.write(create_zone("dyn.test")).await.unwrap().result.unwrap();
    let mut last = write_some(&leader.node, "dyn.test", 1, 40).await;
    // Both online members snapshot and purge: if the leader changes while node 3 is away
    // (a slow disk can delay heartbeats), the new leader has no log to replay to it either.
    for m in &members[..2] {
        m.node.wait_applied(last, WAIT).await.unwrap();
        m.node.raft.trigger().snapshot().await.unwrap();
        m.node.raft.wait(Some(WAIT)).metrics(|m| m.purged.is_some(), "log purged behind a snapshot").await.unwrap();
    }

    members[2].serve();
    for m in &members {
        m.node.wait_applied(last, WAIT).await.unwrap();
    }
    // Read the leader again: an election may have happened meanwhile.
    let leader_id = wait_leader(&members[0].node).await;
    let leader = &members[(leader_id - 1) as usize];
    let want = leader.node.state.cloned();
    for m in &members {
        assert_eq!(m.node.state.cloned(), want, "node {} diverged", m.node.node_id);
    }
    let late = &members[2].node;
    // The leader purged the log before node 3 came online, so only a snapshot can have
    // brought it up to date (node 3 never builds one itself: snapshot_every is large).
    late.raft.wait(Some(WAIT)).metrics(|m| m.snapshot.is_some(), "the late node installed a snapshot").await.unwrap();

    // A follower does not propose: the frequent updates go to the leader in batches (one
    // call for many), anything else is refused with the leader's address.
    let follower = members.iter().find(|m| m.node.node_id != leader_id).unwrap();
    let err = follower.node.write(create_zone("other.test")).await.unwrap_err();
    let WriteError::ForwardToLeader { leader_id: Some(told), leader: Some(told_info) } = err else {
        panic!("expected ForwardToLeader with the leader, got {err:?}");
    };
    assert_eq!(told, leader_id);
    let resp = follower.node.forward_to(&told_info, Request { command: create_zone("other.test") }).await.unwrap();
    assert!(resp.result.is_ok());
    let batches_before = follower.node.forwarded_batches();
    let writes = (0..64u8).map(|i| follower.node.write(set_a("dyn.test", &format!("b{i}"), i)));
    let answers = futures::future::join_all(writes).await;
    let batches = follower.node.forwarded_batches() - batches_before;
    for a in &answers {
        assert!(a.as_ref().unwrap().result.is_ok(), "{a:?}");
    }
    assert!((1..64).contains(&batches), "64 concurrent updates took {batches} forward calls: not batched");
    let resp = follower.node.write(set_a("dyn.test", "f", 200)).await.unwrap();
    assert!(resp.result.is_ok());
    last = resp.index.max(answers.iter().map(|a| a.as_ref().unwrap().index).max().unwrap());
    follower.node.wait_applied(last, WAIT).await.unwrap();
    for i in 0..64u8 {
        let host = fqdn(&format!("b{i}.dyn.test"));
        assert!(follower
            .node
            .state
            .read(|s| s.zones[&fqdn("dyn.test")].rrset(&host, crate::model::RType::A).is_some()));
    }
    let host = fqdn("f.dyn.test");
    assert!(follower.node.state.read(|s| s.zones[&fqdn("dyn.test")].rrset(&host, crate::model::RType::A).is_some()));
    for m in &members {
        m.node.wait_applied(last, WAIT).await.unwrap();
    }
    let want = members[0].node.state.cloned();
    for m in &members {
        assert_eq!(m.node.state.cloned(), want);
    }

    // A forwarded write with a bad secret never reaches the leader.
    let bad = RpcClient::new(Arc::new(ClusterSecret::new(b"wrong".to_vec())), Duration::from_secs(2)).unwrap();
    let err = bad.forward_to(&told_info, &Request { command: set_a("dyn.test", "x", 1) }).await.unwrap_err();
    assert!(matches!(err, ForwardError::Transport(TransportError::Status { status: 401, .. })), "{err:?}");

    for m in &members {
        m.node.shutdown().await.unwrap();
        if let Some(s) = &m.server {
            s.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vote_requests_from_non_voters_and_retired_ids_never_reach_raft() {
    let dir = tempfile::tempdir().unwrap();
    let node = single_node(dir.path(), RecordingObserver::new()).await;
    node.write(crate::state::Command::RetireNode { id: 5 }).await.unwrap().result.unwrap();
    let router = node.rpc_router();
    let secret = ClusterSecret::new(SECRET.to_vec());
    let vote = || async { node.raft.with_raft_state(|st| *st.vote_ref()).await.unwrap() };
    let before = vote().await;
    let ask = |candidate: NodeId| {
        let body =
            crate::codec::encode(&VoteRequest::<NodeId>::new(Vote::new(before.leader_id().term + 5, candidate), None))
                .unwrap();
        signed("/raft/vote", body.clone(), Some(secret.sign(&body)))
    };
    // A retired id is told it is gone.
    let resp = router.clone().oneshot(ask(5)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::GONE);
    // A stranger (not a voter here) is refused with this node's current vote.
    let resp = router.clone().oneshot(ask(9)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let answer: Result<VoteResponse<NodeId>, openraft::error::RaftError<NodeId>> =
        crate::codec::decode(&bytes).unwrap();
    assert!(!answer.unwrap().vote_granted);
    assert_eq!(vote().await, before, "the term did not move");
    assert!(node.raft.metrics().borrow().current_leader == Some(1), "still the leader");
    node.shutdown().await.unwrap();
}

/// A leader running an older binary knows `/raft/forward` but not `/raft/forward_group`:
/// a follower's batch then goes one command per call, and every caller gets its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_to_a_leader_without_the_batch_route_goes_one_by_one() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let old_leader = axum::Router::new().route(
        "/raft/forward",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let req: Request = crate::codec::decode(&body).unwrap();
                assert_eq!(req.command.kind(), "set_record_set");
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let answer: Result<Response, Refusal> =
                    Ok(Response { index: 100 + n, result: Ok(crate::state::Applied::default()), group: Vec::new() });
                crate::codec::encode(&answer).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, old_leader).await });
    let client = RpcClient::new(Arc::new(ClusterSecret::new(SECRET.to_vec())), Duration::from_secs(2)).unwrap();
    let commands: Vec<_> = (0..5u8).map(|i| set_a("dyn.test", &format!("h{i}"), i)).collect();
    let answers = group::forward_batch(&client, 7, &info(&addr), commands, Duration::from_secs(5)).await;
    assert_eq!(answers.len(), 5);
    let mut indexes: Vec<u64> = answers.into_iter().map(|a| a.unwrap().index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![100, 101, 102, 103, 104], "one call and one answer per command");
    assert_eq!(calls.load(Ordering::SeqCst), 5);

    server.abort();

    // A leader that cannot be reached: every command of the batch is told to retry.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = closed.local_addr().unwrap().to_string();
    drop(closed);
    let answers =
        group::forward_batch(&client, 7, &info(&gone), vec![set_a("dyn.test", "x", 1)], Duration::from_secs(2)).await;
    assert!(matches!(&answers[0], Err(Refusal::NoQuorum(m)) if m.contains("leader 7 unreachable")), "{answers:?}");
}
