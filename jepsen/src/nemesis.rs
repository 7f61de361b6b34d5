//! The faults. A schedule (seeded) alternates a fault window and a healed window until the
//! run's time is up; every fault's start and heal are recorded as `Nemesis` events.
//!
//! `leader-churn` is a burst of faults of its own: it kills the current leader, restarts
//! it after 1-3 s, waits 2-3 s and kills the leader again, for a window of 10-25 s.
//! `membership` and `membership-join` replace a member by a brand-new one (a Raft id never
//! used before, an empty data volume) and record the join's outcome as a `Join` event.
//!
//! Partitions are packet filters (`iptables -A INPUT -s PEER -j DROP`) set from the host
//! inside a container's network namespace (`nsenter -t PID -n`): the nodes lose each
//! other, the clients (on the bridge's gateway address) still reach every node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::cluster::{Cluster, JoinReport, NODES};
use crate::history::{Event, NodeId};
use crate::recorder::Recorder;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PartitionMajority,
    PartitionLeader,
    Bridge,
    Kill,
    Pause,
    Membership,
    LeaderChurn,
    MembershipJoin,
}

pub const ALL: [Kind; 8] = [
    Kind::PartitionMajority,
    Kind::PartitionLeader,
    Kind::Bridge,
    Kind::Kill,
    Kind::Pause,
    Kind::Membership,
    Kind::LeaderChurn,
    Kind::MembershipJoin,
];

/// `cluster.snapshot_every` the runner configures when `membership-join` is among the
/// nemeses (unless told otherwise): a new member then installs a snapshot.
pub const JOIN_SNAPSHOT_EVERY: u64 = 500;

/// MB of ballast zones the runner imports when `membership-join` is among the nemeses
/// (unless told otherwise): the larger the snapshot (and the log) a new member takes in,
/// the longer it runs on a membership from before its own addition. With none, 24 of 24
/// joins of a 150 s run of today's binary succeeded; with 10 MB, 2 of 4 failed.
pub const JOIN_BALLAST_MB: u64 = 10;

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::PartitionMajority => "partition-majority",
            Kind::PartitionLeader => "partition-leader",
            Kind::Bridge => "bridge",
            Kind::Kill => "kill",
            Kind::Pause => "pause",
            Kind::Membership => "membership",
            Kind::LeaderChurn => "leader-churn",
            Kind::MembershipJoin => "membership-join",
        }
    }

    /// `mix` or a comma separated list of names (`none`: no faults at all).
    pub fn parse_list(s: &str) -> Result<Vec<Kind>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "mix" => out.extend(ALL),
                "none" => {}
                "clock" => {
                    return Err("clock: not available (the FROM scratch image has no libfaketime, and the nodes \
                                time Raft with the monotonic clock; see docs/jepsen.md)"
                        .into())
                }
                other => out.push(*ALL.iter().find(|k| k.name() == other).ok_or_else(|| {
                    format!(
                        "unknown nemesis {other:?} (one of: {}, mix, none)",
                        ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
                    )
                })?),
            }
        }
        out.dedup();
        Ok(out)
    }
}

/// The name of the `Nemesis` events that bracket a node's replacement by the membership
/// nemesis: the detail starts with `node N:`; from the start on, node N is a new replica.
pub use crate::history::WIPE;

/// A fault chosen and ready to be applied (and then undone to heal).
enum Fault {
    Cut(Vec<NodeId>, Vec<NodeId>),
    Killed(NodeId),
    Paused(Vec<NodeId>),
    Removed(NodeId),
}

fn others(of: &[NodeId]) -> Vec<NodeId> {
    (1..=NODES).filter(|n| !of.contains(n)).collect()
}

/// Chooses the victims (asking the cluster for its leader where that matters).
async fn plan(kind: Kind, c: &Cluster, rng: &mut StdRng) -> Result<(Fault, String), String> {
    let mut all: Vec<NodeId> = (1..=NODES).collect();
    all.shuffle(rng);
    let leader_or_any = |p: f64, rng: &mut StdRng| (rng.gen_bool(p), all[0]);
    Ok(match kind {
        Kind::PartitionMajority => {
            let (minority, majority) = all.split_at(2);
            (Fault::Cut(minority.to_vec(), majority.to_vec()), format!("{minority:?} | {majority:?}"))
        }
        Kind::PartitionLeader => {
            let leader = c.leader().await.ok_or("no leader known")?;
            let rest = others(&[leader]);
            (Fault::Cut(vec![leader], rest.clone()), format!("leader {leader} isolated from {rest:?}"))
        }
        Kind::Bridge => {
            let (a, rest) = all.split_at(2);
            let (bridge, b) = rest.split_at(1);
            (Fault::Cut(a.to_vec(), b.to_vec()), format!("{a:?} | {b:?}, bridged by {}", bridge[0]))
        }
        Kind::Kill => {
            // Half the time the leader, else anyone.
            let (leader, any) = leader_or_any(0.5, rng);
            let victim = if leader { c.leader().await.unwrap_or(any) } else { any };
            (Fault::Killed(victim), format!("kill -9 node {victim}"))
        }
        Kind::Pause => {
            let victims = all[..rng.gen_range(1..=2)].to_vec();
            (Fault::Paused(victims.clone()), format!("pause {victims:?}"))
        }
        Kind::Membership => {
            let (leader, any) = leader_or_any(0.3, rng);
            let victim = if leader { c.leader().await.unwrap_or(any) } else { any };
            (Fault::Removed(victim), format!("remove node {victim} (id {})", c.raft_id(victim)))
        }
        Kind::MembershipJoin => {
            // A follower makes room for the new member: the join, not the removal, is
            // what this nemesis is about (`membership` removes leaders too).
            let leader = c.leader().await.ok_or("no leader known")?;
            let victim = *all.iter().find(|n| **n != leader).expect("five nodes");
            (Fault::Removed(victim), format!("replace node {victim} (id {}) by a brand-new member", c.raft_id(victim)))
        }
        Kind::LeaderChurn => unreachable!("leader-churn runs its own loop (churn)"),
    })
}

async fn apply(fault: &Fault, c: &Cluster) -> Result<String, String> {
    match fault {
        Fault::Cut(a, b) => c.cut(a, b).await.map(|_| "filters set".into()),
        Fault::Killed(n) => c.kill(*n).await.map(|_| "killed".into()),
        Fault::Paused(ns) => {
            for n in ns {
                c.pause(*n).await?;
            }
            Ok("paused".into())
        }
        Fault::Removed(n) => c.remove_member(*n, Duration::from_secs(20)).await,
    }
}

async fn heal(fault: Fault, c: &Cluster, rec: &Recorder, join_bound: Duration) -> Result<String, String> {
    match fault {
        Fault::Cut(..) => c.heal_network().await.map(|_| "filters removed".to_string()),
        Fault::Killed(n) => c.start(n).await.map(|_| format!("node {n} started")),
        Fault::Paused(ns) => {
            for n in &ns {
                c.unpause(*n).await?;
            }
            Ok(format!("unpaused {ns:?}"))
        }
        Fault::Removed(n) => replace(n, c, rec, join_bound).await,
    }
}

/// Wipes slot `n` (already removed from the cluster), starts it empty under a new Raft id,
/// adds and promotes it, checks that it works ([`Cluster::verify_join`]) and records the
/// outcome as a `Join` event; the wipe is bracketed by `membership-wipe` events (from the
/// start on, node n is a new, empty replica: a checker must not compare what it answers
/// with what the old member answered).
async fn replace(n: NodeId, c: &Cluster, rec: &Recorder, bound: Duration) -> Result<String, String> {
    let started_ns = rec.now_ns();
    let deadline = Instant::now() + bound;
    let (old, id) = c.wipe(n).await?;
    rec.nemesis(WIPE, true, format!("node {n}: id {old} wiped, restarted empty as id {id}"));
    let report = match c.rejoin(n, deadline.saturating_duration_since(Instant::now())).await {
        Ok(()) => c.verify_join(n, deadline).await,
        Err(e) => JoinReport { joined: false, fenced: false, detail: format!("add/promote: {e}") },
    };
    let (joined, mut detail) = (report.joined, report.detail);
    if report.fenced {
        // It stays fenced until restarted: restart it, so that the next join meets a
        // cluster of working members (and see whether a restart is enough).
        match c.restart_until_ready(n, Duration::from_secs(30)).await {
            Ok(took) => detail.push_str(&format!("; restarted: ready {} ms after the start", took.as_millis())),
            Err(e) => detail.push_str(&format!("; restarted: {e}")),
        }
    }
    eprintln!(
        "[{:7.2}s] join of node {n} as id {id}: {} ({detail})",
        rec.now_ns() as f64 / 1e9,
        if joined { "joined" } else { "FAILED" }
    );
    rec.record(|time_ns| Event::Join {
        time_ns,
        node: n,
        raft_id: id,
        started_ns,
        joined,
        bound_ms: bound.as_millis() as u64,
        detail: detail.clone(),
    });
    rec.nemesis(WIPE, false, format!("node {n}: id {id} {}", if joined { "joined" } else { "did not join" }));
    if joined {
        Ok(format!("node {n} wiped and added back as id {id}: {detail}"))
    } else {
        Err(format!("node {n} wiped, new id {id} did not join: {detail}"))
    }
}

/// Kills the confirmed leader, restarts it after 1-3 s, waits 2-3 s, and again, until
/// `until`; each kill is one fault (a `leader-churn` start and stop).
async fn churn(c: &Cluster, rec: &Recorder, rng: &mut StdRng, until: Instant) {
    let name = Kind::LeaderChurn.name();
    while Instant::now() + Duration::from_millis(1500) < until {
        let Some(leader) = c.confirmed_leader().await else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        // Down for 1-3 s: the election timeout is 1-2 s, so about half the kills elect a
        // new leader; after a shorter outage the old leader comes back with its committed
        // vote and leads on in the same term.
        let down = Duration::from_millis(rng.gen_range(1000..3000));
        let up = Duration::from_millis(rng.gen_range(2000..3000));
        rec.nemesis(name, true, format!("kill -9 leader node {leader} (id {})", c.raft_id(leader)));
        if let Err(e) = c.kill(leader).await {
            rec.nemesis(name, false, format!("could not apply: {e}"));
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        tokio::time::sleep(down).await;
        let started = c.start(leader).await;
        rec.nemesis(
            name,
            false,
            match started {
                Ok(()) => format!("node {leader} started after {} ms", down.as_millis()),
                Err(e) => format!("start of node {leader} failed: {e}"),
            },
        );
        tokio::time::sleep_until((Instant::now() + up).min(until).into()).await;
    }
}

/// Runs faults until `deadline`, then heals. Errors of a fault are recorded in the stop
/// event's detail (and the run goes on).
/// `join_bound`: how long a new member may take to join (see [`replace`]).
pub async fn run(
    c: Arc<Cluster>,
    rec: Arc<Recorder>,
    kinds: Vec<Kind>,
    seed: u64,
    deadline: Instant,
    join_bound: Duration,
) {
    if kinds.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6e656d65736973);
    let sleep_until = |t: Instant| tokio::time::sleep_until(t.into());
    // A quiet start: the workload's normal behaviour is in the history too.
    sleep_until((Instant::now() + Duration::from_secs(5)).min(deadline)).await;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_secs(6) {
            break;
        }
        let kind = *kinds.choose(&mut rng).expect("kinds is not empty");
        let mut fault_for = Duration::from_millis(rng.gen_range(4000..10000)).min(left - Duration::from_secs(3));
        let mut heal_for = Duration::from_millis(rng.gen_range(4000..8000));
        match kind {
            Kind::LeaderChurn => {
                let window = Duration::from_millis(rng.gen_range(10_000..25_000)).min(left - Duration::from_secs(3));
                churn(&c, &rec, &mut rng, Instant::now() + window).await;
                sleep_until((Instant::now() + heal_for).min(deadline)).await;
                continue;
            }
            // The member is replaced right away (the join is the point), and joins come
            // often: a new member every 10-20 s.
            Kind::MembershipJoin => {
                fault_for = Duration::from_millis(rng.gen_range(500..2000));
                heal_for = Duration::from_millis(rng.gen_range(2000..5000));
            }
            _ => {}
        }
        let (fault, detail) = match plan(kind, &c, &mut rng).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("nemesis {}: {e}", kind.name());
                sleep_until((Instant::now() + Duration::from_secs(1)).min(deadline)).await;
                continue;
            }
        };
        let began = Instant::now();
        rec.nemesis(kind.name(), true, detail);
        let applied = match apply(&fault, &c).await {
            Ok(a) => a,
            Err(e) => {
                // Undo whatever part of it took hold (a failed removal leaves the member).
                let undone = match fault {
                    Fault::Removed(_) => String::new(),
                    f => heal(f, &c, &rec, join_bound).await.err().unwrap_or_default(),
                };
                rec.nemesis(kind.name(), false, format!("could not apply: {e} {undone}"));
                sleep_until((Instant::now() + heal_for).min(deadline)).await;
                continue;
            }
        };
        sleep_until(began + fault_for).await;
        let detail = match heal(fault, &c, &rec, join_bound).await {
            Ok(d) => format!("{applied}; {d}"),
            Err(e) => format!("{applied}; heal failed: {e}"),
        };
        rec.nemesis(kind.name(), false, detail);
        sleep_until((Instant::now() + heal_for).min(deadline)).await;
    }
}
