//! Operations support: Raft gauges kept current from openraft's metrics, the storage
//! probe behind `/readyz`'s `storage_writable` check, and backups (see [`backup`]).

pub(crate) mod backup;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics as m;
use crate::raft::types::NodeId;
use crate::service::Service;
use crate::store::trees;

/// How often the storage probe writes and flushes one key.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(5);
/// A probe that has not finished in this long counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes and flushes one small key in the `health` tree; records the outcome.
pub(crate) async fn probe_storage(svc: &Service) -> bool {
    let store = svc.raft_node().store();
    let write = async {
        let tree = store.open_tree(trees::HEALTH)?;
        tree.put(b"probe", &m::unix_now().to_be_bytes())?;
        store.flush("probe").await
    };
    let ok = match tokio::time::timeout(PROBE_TIMEOUT, write).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "storage probe failed: the data directory is not writable");
            false
        }
        Err(_) => {
            tracing::error!("storage probe timed out: flushing the data directory takes over {PROBE_TIMEOUT:?}");
            false
        }
    };
    svc.health().storage_probed(ok);
    if ok {
        m::STORAGE_PROBE_TIMESTAMP.set(m::unix_now());
    } else {
        m::STORAGE_PROBE_FAILURES_TOTAL.inc();
    }
    ok
}

/// What the previous metrics update saw, to count elections and leader changes.
#[derive(Default)]
struct Seen {
    term: Option<u64>,
    leader: Option<Option<NodeId>>,
}

/// Keeps the Raft gauges current (on every change of openraft's metrics) and probes the
/// storage every [`PROBE_EVERY`], until `stop`.
pub(crate) async fn observe(svc: Arc<Service>, mut stop: watch::Receiver<bool>) {
    let mut metrics = svc.raft_node().raft.metrics();
    let mut seen = Seen::default();
    let mut probe = tokio::time::interval(PROBE_EVERY);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        {
            let current = metrics.borrow_and_update();
            update(&current, &mut seen);
        }
        let probe_now = tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return } else { false },
            _ = probe.tick() => true,
            _ = stop.wait_for(|s| *s) => return,
        };
        if probe_now {
            probe_storage(&svc).await;
        }
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn update(r: &crate::raft::types::RaftMetricsOf, seen: &mut Seen) {
    let last = r.last_log_index.unwrap_or(0);
    let applied = r.last_applied.map(|l| l.index).unwrap_or(0);
    let is_leader = r.current_leader == Some(r.id) && r.state.is_leader();
    m::RAFT_TERM.set(gauge(r.current_term));
    m::RAFT_IS_LEADER.set(i64::from(is_leader));
    m::RAFT_LEADER_ID.set(gauge(r.current_leader.unwrap_or(0)));
    m::RAFT_LAST_LOG_INDEX.set(gauge(last));
    m::RAFT_APPLY_LAG.set(gauge(last.saturating_sub(applied)));
    // Snapshots only move forward in a process; openraft's metrics can trail the value
    // persist_snapshot already set, so never lower it here.
    let snapshot_index = gauge(r.snapshot.map(|l| l.index).unwrap_or(0));
    if snapshot_index > m::RAFT_SNAPSHOT_INDEX.get() {
        m::RAFT_SNAPSHOT_INDEX.set(snapshot_index);
    }
    m::RAFT_COMMITTED_INDEX.set(gauge(committed(r, is_leader, last, applied)));
    m::RAFT_REPLICATION_LAG.reset();
    if let (true, Some(rep)) = (is_leader, &r.replication) {
        for (id, matched) in rep.iter().filter(|(id, _)| **id != r.id) {
            let lag = last.saturating_sub(matched.map(|l| l.index).unwrap_or(0));
            m::RAFT_REPLICATION_LAG.with_label_values(&[&id.to_string()]).set(gauge(lag));
        }
    }
    // Counters count what happened while this process ran: the first look is the baseline.
    if let Some(prev) = seen.term {
        if r.current_term > prev {
            m::RAFT_ELECTIONS_TOTAL.inc_by(r.current_term - prev);
        }
    }
    seen.term = Some(r.current_term);
    if let Some(prev) = seen.leader {
        if r.current_leader.is_some() && prev != r.current_leader {
            m::RAFT_LEADER_CHANGES_TOTAL.inc();
        }
    }
    seen.leader = Some(r.current_leader);
}

/// openraft 0.9 does not export the commit index. The leader knows it: the highest index
/// a majority of voters has matched (itself at its last log index). A follower only knows
/// it has applied up to `applied`, which is committed: report that lower bound.
fn committed(r: &crate::raft::types::RaftMetricsOf, is_leader: bool, last: u64, applied: u64) -> u64 {
    let Some(rep) = r.replication.as_ref().filter(|_| is_leader) else {
        return applied;
    };
    let mut matched: Vec<u64> = r
        .membership_config
        .membership()
        .voter_ids()
        .map(|id| if id == r.id { last } else { rep.get(&id).copied().flatten().map(|l| l.index).unwrap_or(0) })
        .collect();
    if matched.is_empty() {
        return applied;
    }
    matched.sort_unstable_by(|a, b| b.cmp(a));
    matched[matched.len() / 2].max(applied)
}
