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
//! Durability is unchanged: each caller gets its answer only from the state machine's
//! response to the group's entry, i.e. after that entry was fsynced on a quorum, committed
//! and applied on this node. Each command of a group is applied exactly as if it were its
//! own entry at the group's index (its own result, its own serial bump and journal entry),
//! so grouping changes no outcome, only how many commands share one entry.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::membership::{leader_write, Refusal};
use super::types::{Raft, Request, Response};
use crate::metrics;
use crate::state::Command;

/// Most commands in one entry: bounds the entry (a dyndns update encodes to ~150 bytes)
/// and the apply time one entry holds the state lock.
const MAX_GROUP: usize = 256;
/// Entries of this writer in flight at once. Two let the next group's local append and
/// fsync overlap the previous group's replication round; more would only split arrivals
/// into smaller groups.
const IN_FLIGHT: usize = 2;

type Reply = oneshot::Sender<Result<Response, Refusal>>;

/// Hands groupable commands to one task that proposes them in groups (leader side: both
/// this node's own writes and writes forwarded by followers go through it).
#[derive(Clone)]
pub struct GroupWriter {
    tx: mpsc::UnboundedSender<(Command, Reply)>,
}

impl GroupWriter {
    pub fn start(raft: Raft, limit: Duration) -> GroupWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, rx, limit));
        GroupWriter { tx }
    }

    /// Proposes `command` in the next group and waits for its own result.
    pub async fn write(&self, command: Command) -> Result<Response, Refusal> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((command, reply)).map_err(|_| Refusal::Fatal("the group writer stopped".into()))?;
        answer.await.unwrap_or_else(|_| Err(Refusal::Fatal("the group writer stopped".into())))
    }
}

/// Commands that may share an entry: the frequent, independent updates. Everything else
/// (zone imports, membership, registry changes...) keeps an entry of its own.
pub fn groupable(command: &Command) -> bool {
    matches!(
        command,
        Command::UpdateAddresses { .. }
            | Command::SetRecordSet { .. }
            | Command::AddRecords { .. }
            | Command::DeleteRecordSet { .. }
            | Command::RecordRefusedUpdate { .. }
    )
}

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<(Command, Reply)>, limit: Duration) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // While both slots are busy, arrivals queue up and form the next group.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            commit(&raft, group, limit).await;
            drop(slot);
        });
    }
}

async fn commit(raft: &Raft, group: Vec<(Command, Reply)>, limit: Duration) {
    metrics::RAFT_WRITE_GROUP_COMMANDS.observe(group.len() as f64);
    let (commands, replies): (Vec<Command>, Vec<Reply>) = group.into_iter().unzip();
    let command = if commands.len() == 1 { commands.into_iter().next().expect("one command") } else { Command::Group(commands) };
    let answer = leader_write(raft, Request { command }, limit).await;
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
            let e = Refusal::Fatal(format!("entry {} answered {} results for {} commands", resp.index, resp.group.len(), replies.len()));
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
