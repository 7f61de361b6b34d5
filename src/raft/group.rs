//! Group commit: updates that arrive while earlier entries are being committed travel
//! together in the next log entry (`Command::Group`), so one fsync per node and one
//! replication round serve all of them.
//!
//! Why here and not in the log store: openraft 0.9's core turns every `client_write` into
//! its own entry and its own `append` call, and waits for that append's flush before it
//! takes the next request. A log store cannot merge flushes it is never given together, so
//! on the leader every update cost one fsync (~0.3 ms here: the ~2.7k updates/s ceiling of
//! the first measurement, whatever the number of clients).
//!
//! On a follower the same writer batches the other way: what arrives while earlier
//! forwards are in flight goes to the leader in **one** `/raft/forward_group` call, where
//! the leader's writer puts the whole batch into its next group. One signed HTTP round
//! trip then carries many updates instead of one each (the follower path's cost).
//!
//! Durability is unchanged: each caller gets its answer only from the state machine's
//! response to the group's entry, i.e. after that entry was fsynced on a quorum, committed
//! and applied on the leader (the caller's service then waits for its own node to apply
//! it). Each command of a group is applied exactly as if it were its own entry at the
//! group's index (its own result, its own serial bump and journal entry), so grouping
//! changes no outcome, only how many commands share one entry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::Instrument;

use super::membership::{leader_write, Refusal};
use super::network::{RpcClient, TransportError};
use super::types::{NodeId, NodeInfo, Raft, Request, Response};
use crate::metrics;
use crate::state::Command;

/// Most commands in one entry: bounds the entry (a dyndns update encodes to ~150 bytes)
/// and the apply time one entry holds the state lock.
pub const MAX_GROUP: usize = 256;
/// Entries of this writer in flight at once on the leader. Two let the next group's local
/// append and fsync overlap the previous group's replication round; more would only split
/// arrivals into smaller groups.
const IN_FLIGHT: u32 = 2;
/// A follower has one batch at the leader at a time: the follower path is CPU-bound on
/// HTTP work, so fewer, larger batches win. Same run, 3 nodes, 64 clients to a follower:
/// 4 in flight 6.6-6.8k updates/s, 2 in flight 8.1-9.6k, 1 in flight 10.9-11.3k.
const FORWARD_COST: u32 = IN_FLIGHT;

type Reply = oneshot::Sender<Result<Response, Refusal>>;

/// One command waiting for its group, and whether this node may pass it on to another
/// leader (its own clients' commands) or not (a batch a follower forwarded here: passing
/// it on again could bounce between two nodes that each think the other leads).
struct Pending {
    command: Command,
    reply: Reply,
    forwardable: bool,
}

/// Hands groupable commands to one task that proposes them in groups on the leader and
/// forwards them in batches from a follower.
#[derive(Clone)]
pub struct GroupWriter {
    tx: mpsc::UnboundedSender<Pending>,
    forwarded_batches: Arc<AtomicU64>,
}

impl GroupWriter {
    pub fn start(raft: Raft, client: RpcClient, limit: Duration) -> GroupWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        let forwarded_batches = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(Arc::new(Writer { raft, client, limit, forwarded_batches: forwarded_batches.clone() }), rx));
        GroupWriter { tx, forwarded_batches }
    }

    /// How many batches this node forwarded to a leader since it started (one call each).
    pub fn forwarded_batches(&self) -> u64 {
        self.forwarded_batches.load(Ordering::Relaxed)
    }

    /// Proposes `command` in the next group (through the leader when this node is not the
    /// leader) and waits for its own result.
    pub async fn write(&self, command: Command) -> Result<Response, Refusal> {
        Self::receive(self.send(command, true)).await
    }

    /// Proposes a batch a follower forwarded, in this node's next groups; never passed on.
    /// The answers are in the batch's order.
    pub async fn write_forwarded(&self, commands: Vec<Command>) -> Vec<Result<Response, Refusal>> {
        // Enqueue all before awaiting any, so the batch lands in as few groups as possible.
        let answers: Vec<_> = commands.into_iter().map(|c| self.send(c, false)).collect();
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            out.push(Self::receive(answer).await);
        }
        out
    }

    fn send(&self, command: Command, forwardable: bool) -> Option<oneshot::Receiver<Result<Response, Refusal>>> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Pending { command, reply, forwardable }).ok().map(|_| answer)
    }

    async fn receive(answer: Option<oneshot::Receiver<Result<Response, Refusal>>>) -> Result<Response, Refusal> {
        let stopped = || Refusal::Fatal("the group writer stopped".into());
        match answer {
            None => Err(stopped()),
            Some(answer) => answer.await.unwrap_or_else(|_| Err(stopped())),
        }
    }
}

/// Commands that may share an entry: the frequent, independent updates. Everything else
/// (zone imports, membership, registry changes...) keeps an entry of its own.
pub fn groupable(command: &Command) -> bool {
    match command {
        Command::WithId { command, .. } => groupable(command),
        c => matches!(
            c,
            Command::UpdateAddresses { .. }
                | Command::SetRecordSet { .. }
                | Command::AddRecords { .. }
                | Command::DeleteRecordSet { .. }
                | Command::RecordRefusedUpdate { .. }
        ),
    }
}

struct Writer {
    raft: Raft,
    client: RpcClient,
    limit: Duration,
    /// Batches this node forwarded to a leader (see [`GroupWriter::forwarded_batches`]).
    forwarded_batches: Arc<AtomicU64>,
}

async fn run(writer: Arc<Writer>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    // A local entry takes one slot, a forwarded batch all of them.
    let slots = Arc::new(Semaphore::new(IN_FLIGHT as usize));
    while let Some(first) = rx.recv().await {
        let leader = writer.leader();
        let cost = match leader {
            Leader::Here => 1,
            Leader::Other(..) => FORWARD_COST,
        };
        // While the slots are busy, arrivals queue up and form the next group.
        let Ok(slot) = slots.clone().acquire_many_owned(cost).await else { return };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let writer = writer.clone();
        tokio::spawn(async move {
            writer.dispatch(leader, group).await;
            drop(slot);
        });
    }
}

/// Who leads, as this node last heard.
enum Leader {
    /// This node, or nobody known: propose here (openraft answers who leads, if anyone).
    Here,
    Other(NodeId, NodeInfo),
}

impl Writer {
    fn leader(&self) -> Leader {
        match super::membership::not_leader(&self.raft) {
            Some(Refusal::NotLeader { leader_id: Some(id), leader: Some(info) }) => Leader::Other(id, info),
            _ => Leader::Here,
        }
    }

    /// Proposes `group` here, or forwards it to `leader` (as seen when the group was formed).
    async fn dispatch(&self, leader: Leader, group: Vec<Pending>) {
        let Leader::Other(id, info) = leader else {
            return self.commit(group).await;
        };
        let (forward, refuse): (Vec<Pending>, Vec<Pending>) = group.into_iter().partition(|p| p.forwardable);
        let not_leader = Refusal::NotLeader { leader_id: Some(id), leader: Some(info.clone()) };
        for p in refuse {
            let _ = p.reply.send(Err(not_leader.clone()));
        }
        if !forward.is_empty() {
            self.forward(id, &info, forward).await;
        }
    }

    async fn commit(&self, group: Vec<Pending>) {
        metrics::RAFT_WRITE_GROUP_COMMANDS.observe(group.len() as f64);
        let (commands, replies): (Vec<Command>, Vec<Reply>) = group.into_iter().map(|p| (p.command, p.reply)).unzip();
        let command = if commands.len() == 1 {
            commands.into_iter().next().expect("one command")
        } else {
            Command::Group(commands)
        };
        let answer = leader_write(&self.raft, Request { command }, self.limit).await;
        match answer {
            Ok(resp) if resp.group.len() == replies.len() && replies.len() > 1 => {
                for (reply, result) in replies.into_iter().zip(resp.group) {
                    let _ = reply.send(Ok(Response { index: resp.index, result, group: Vec::new() }));
                }
            }
            Ok(resp) if replies.len() == 1 => {
                let _ = replies.into_iter().next().expect("one reply").send(Ok(resp));
            }
            Ok(resp) => {
                let e = Refusal::Fatal(format!(
                    "entry {} answered {} results for {} commands",
                    resp.index,
                    resp.group.len(),
                    replies.len()
                ));
                replies.into_iter().for_each(|r| drop(r.send(Err(e.clone()))));
            }
            Err(e) => replies.into_iter().for_each(|r| drop(r.send(Err(e.clone())))),
        }
    }

    async fn forward(&self, leader_id: NodeId, leader: &NodeInfo, batch: Vec<Pending>) {
        self.forwarded_batches.fetch_add(1, Ordering::Relaxed);
        let (commands, replies): (Vec<Command>, Vec<Reply>) = batch.into_iter().map(|p| (p.command, p.reply)).unzip();
        let answers = forward_batch(&self.client, leader_id, leader, commands, self.limit).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(answer);
        }
    }
}

/// Sends a batch to the leader's `/raft/forward_group` in one call; the answers are in the
/// batch's order, one per command. A leader that does not know the route (an older binary
/// during a rolling upgrade) gets one `/raft/forward` call per command instead.
pub async fn forward_batch(
    client: &RpcClient,
    leader_id: NodeId,
    leader: &NodeInfo,
    commands: Vec<Command>,
    limit: Duration,
) -> Vec<Result<Response, Refusal>> {
    let n = commands.len();
    metrics::RAFT_FORWARD_GROUP_COMMANDS.observe(n as f64);
    let span = tracing::info_span!("raft_forward_group", leader = leader_id, commands = n);
    let answer: Result<Vec<Result<Response, Refusal>>, TransportError> =
        client.call(&leader.raft_addr, "forward_group", &commands, limit).instrument(span.clone()).await;
    let answers = match answer {
        Ok(answers) if answers.len() == n => answers,
        Ok(answers) => {
            let e = Refusal::Fatal(format!("leader answered {} results for {n} commands", answers.len()));
            vec![Err(e); n]
        }
        Err(TransportError::Status { status: 404, .. }) => {
            span.in_scope(|| tracing::info!("the leader has no batch route; forwarding one by one"));
            let each = commands.into_iter().map(|command| async move {
                client.forward_within(leader, &Request { command }, limit).await.map_err(|e| match e {
                    super::ForwardError::Remote(r) => r,
                    super::ForwardError::Transport(t) => unreachable_leader(leader_id, &t),
                })
            });
            futures::future::join_all(each).await
        }
        Err(e) => vec![Err(unreachable_leader(leader_id, &e)); n],
    };
    let ok = if answers.iter().all(|a| a.is_ok()) { "ok" } else { "error" };
    metrics::RAFT_FORWARDED_TOTAL.with_label_values(&[ok]).inc();
    answers
}

/// The refusal for a batch the leader never answered. It may still commit; the service
/// retries as it does after a single forward that got no answer.
fn unreachable_leader(id: NodeId, e: &TransportError) -> Refusal {
    Refusal::NoQuorum(format!("leader {id} unreachable: {e}"))
}
