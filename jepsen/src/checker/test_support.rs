//! Hand-made histories for the checkers' tests.

use super::{CheckResult, Prepared};
use crate::history::{Event, History, HistoryEntry, NodeId, Op, OpResult, AGENT_PREFIX};

/// The request id the [`Builder`] gives a write.
pub(super) fn request_for(process: u64, value: &str) -> String {
    format!("op-{process}-{value}")
}

/// A host history entry as a node records it: the request's user agent, the result and
/// the address before and after.
pub(super) fn entry(index: u64, request: &str, result: &str, old: Option<&str>, new: Option<&str>) -> HistoryEntry {
    HistoryEntry {
        index,
        serial: index as u32,
        result: result.into(),
        user_agent: format!("{AGENT_PREFIX}{request}"),
        old_ipv4: old.map(Into::into),
        new_ipv4: new.map(Into::into),
    }
}

/// The entry of a `good` update by the [`Builder`]'s write of `new` by `process`.
pub(super) fn good(index: u64, process: u64, old: Option<&str>, new: &str) -> HistoryEntry {
    entry(index, &request_for(process, new), "good", old, Some(new))
}

/// How a hand-made operation ends.
#[derive(Clone, Copy)]
pub(super) enum End {
    Ok(u64),
    Fail(u64),
    Info(u64),
    InFlight,
}

/// Builds a history from operations given in any order (events are sorted by time, ties
/// keeping the order they were added in).
#[derive(Default)]
pub(super) struct Builder {
    events: Vec<Event>,
}

impl Builder {
    pub(super) fn new() -> Self {
        Builder::default()
    }

    fn invoke(&mut self, process: u64, node: NodeId, time_ns: u64, op: Op) {
        self.events.push(Event::Invoke { process, time_ns, node, op });
    }

    fn complete(&mut self, process: u64, node: NodeId, end: End, result: OpResult) {
        let event = match end {
            End::Ok(time_ns) => Event::Ok { process, time_ns, node, result },
            End::Fail(time_ns) => Event::Fail { process, time_ns, node, error: "rejected".into() },
            End::Info(time_ns) => Event::Info { process, time_ns, node, error: "timeout".into() },
            End::InFlight => return,
        };
        self.events.push(event);
    }

    pub(super) fn write(mut self, process: u64, node: NodeId, host: &str, value: &str, invoke: u64, end: End) -> Self {
        let request = Some(request_for(process, value));
        self.invoke(process, node, invoke, Op::Write { host: host.into(), value: value.into(), request });
        self.complete(process, node, end, OpResult::Written);
        self
    }

    /// A read of any kind that completes Ok with `result`.
    pub(super) fn read(
        mut self,
        process: u64,
        node: NodeId,
        op: Op,
        invoke: u64,
        complete: u64,
        result: OpResult,
    ) -> Self {
        self.invoke(process, node, invoke, op);
        self.complete(process, node, End::Ok(complete), result);
        self
    }

    pub(super) fn leader_read(
        self,
        process: u64,
        node: NodeId,
        host: &str,
        invoke: u64,
        complete: u64,
        value: Option<&str>,
    ) -> Self {
        let result = OpResult::Read { value: value.map(Into::into), serial: None, serial_before: None };
        self.read(process, node, Op::LeaderRead { host: host.into() }, invoke, complete, result)
    }

    /// A DNS read whose SOA bracket held at `serial`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dns_read(
        self,
        process: u64,
        node: NodeId,
        host: &str,
        invoke: u64,
        complete: u64,
        value: Option<&str>,
        serial: u32,
    ) -> Self {
        let result = OpResult::Read { value: value.map(Into::into), serial: Some(serial), serial_before: Some(serial) };
        self.read(process, node, Op::DnsRead { host: host.into() }, invoke, complete, result)
    }

    /// A DNS read whose SOA bracket did not hold: only the serial before is known.
    pub(super) fn dns_read_unbracketed(
        self,
        process: u64,
        node: NodeId,
        host: &str,
        invoke: u64,
        complete: u64,
        serial_before: u32,
    ) -> Self {
        let result = OpResult::Read { value: None, serial: None, serial_before: Some(serial_before) };
        self.read(process, node, Op::DnsRead { host: host.into() }, invoke, complete, result)
    }

    pub(super) fn final_read(
        mut self,
        node: NodeId,
        host: &str,
        value: Option<&str>,
        serial: u32,
        time_ns: u64,
    ) -> Self {
        self.events.push(Event::Final { time_ns, node, host: host.into(), value: value.map(Into::into), serial });
        self
    }

    pub(super) fn converged(mut self, time_ns: u64, after_heal_ms: Option<u64>, bound_ms: u64) -> Self {
        self.events.push(Event::Converged { time_ns, after_heal_ms, bound_ms });
        self
    }

    pub(super) fn nemesis(mut self, name: &str, start: bool, time_ns: u64, detail: &str) -> Self {
        self.events.push(Event::Nemesis { time_ns, name: name.into(), start, detail: detail.into() });
        self
    }

    pub(super) fn host_history(mut self, node: NodeId, host: &str, time_ns: u64, entries: Vec<HistoryEntry>) -> Self {
        self.events.push(Event::HostHistory { time_ns, node, host: host.into(), truncated: false, entries });
        self
    }

    /// A join attempt of id `raft_id` in slot `node`, started at `started_ns`, recorded at
    /// `time_ns`.
    pub(super) fn join(mut self, node: NodeId, raft_id: u64, started_ns: u64, time_ns: u64, joined: bool) -> Self {
        let detail = if joined { "voter, ready, write good" } else { "readyz 503: removed" };
        self.events.push(Event::Join {
            time_ns,
            node,
            raft_id,
            started_ns,
            joined,
            bound_ms: 60_000,
            detail: detail.into(),
        });
        self
    }

    pub(super) fn build(mut self) -> History {
        self.events.sort_by_key(Event::time_ns);
        History::new(self.events)
    }
}

/// A small history every checker accepts: two writes of h1 (the second concurrent with a
/// leader read that sees it), DNS reads on two nodes, final reads on three nodes that agree,
/// convergence within the bound, the hosts' replicated histories (each write once, the
/// failed one as a refusal) and one successful join.
pub(super) fn good_history() -> History {
    Builder::new()
        .leader_read(1, 1, "h1", 5, 8, None)
        .dns_read(2, 2, "h1", 6, 9, None, 1)
        .write(3, 1, "h1", "10.0.0.1", 10, End::Ok(20))
        .leader_read(1, 1, "h1", 21, 25, Some("10.0.0.1"))
        .dns_read(2, 2, "h1", 22, 26, Some("10.0.0.1"), 2)
        .write(3, 1, "h1", "10.0.0.2", 30, End::Ok(40))
        .leader_read(1, 3, "h1", 32, 38, Some("10.0.0.2"))
        .dns_read(2, 3, "h1", 33, 39, Some("10.0.0.1"), 2)
        .write(4, 2, "h1", "10.0.0.3", 41, End::Fail(42))
        .write(5, 2, "h2", "10.0.1.1", 43, End::Info(50))
        .dns_read(2, 2, "h1", 51, 52, Some("10.0.0.2"), 3)
        .final_read(1, "h1", Some("10.0.0.2"), 4, 100)
        .final_read(2, "h1", Some("10.0.0.2"), 4, 101)
        .final_read(3, "h1", Some("10.0.0.2"), 4, 102)
        .final_read(1, "h2", Some("10.0.1.1"), 4, 103)
        .final_read(2, "h2", Some("10.0.1.1"), 4, 104)
        .final_read(3, "h2", Some("10.0.1.1"), 4, 105)
        .converged(99, Some(1500), 30_000)
        .host_history(
            1,
            "h1",
            106,
            vec![
                good(2, 3, None, "10.0.0.1"),
                good(3, 3, Some("10.0.0.1"), "10.0.0.2"),
                entry(4, &request_for(4, "10.0.0.3"), "ratelimited", Some("10.0.0.2"), Some("10.0.0.2")),
            ],
        )
        .host_history(1, "h2", 107, vec![good(5, 5, None, "10.0.1.1")])
        .join(3, 6, 60, 90, true)
        .build()
}

/// Runs one checker on a history whose operations pair up.
pub(super) fn run(history: &History, check: fn(&Prepared) -> CheckResult) -> CheckResult {
    let ops = history.completed().expect("hand-made histories pair up");
    check(&Prepared::new(&history.events, ops))
}

/// Asserts the checker failed and one of its anomalies mentions every given fragment.
pub(super) fn assert_anomaly(result: &CheckResult, fragments: &[&str]) {
    assert!(!result.passed, "{} passed:\n{result}", result.name);
    assert!(
        result.anomalies.iter().any(|a| fragments.iter().all(|f| a.contains(f))),
        "no anomaly of {} mentions all of {fragments:?}:\n{result}",
        result.name
    );
}

/// Asserts the checker passed.
pub(super) fn assert_passed(result: &CheckResult) {
    assert!(result.passed, "{result}");
}

/// Runs one checker on [`good_history`], asserts it passed after checking `checked`
/// things, and returns its result.
pub(super) fn passes_good_history(check: fn(&Prepared) -> CheckResult, checked: u64) -> CheckResult {
    let result = run(&good_history(), check);
    assert_passed(&result);
    assert_eq!(result.checked, checked, "{result}");
    result
}

/// splitmix64: a small deterministic generator for the random histories.
pub(super) struct Rng(pub u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The history of a correct 5-node cluster, `ops` operations on `hosts` hosts by 10
/// clients: writes (10% failed, 10% unknown: applied later or never) enter one log at an
/// instant of their interval, leader reads return the log's state at an instant of theirs,
/// each node applies the log with a constant lag and its DNS reads return the node's state
/// and serial (1 + entries applied; 10% with a broken SOA bracket), and after the end every
/// node's final reads return the whole log's state. Every checker must accept it.
pub(super) fn simulated_cluster(seed: u64, ops: usize, hosts: usize) -> History {
    const NODES: u64 = 5;
    const CLIENTS: usize = 10;
    struct Planned {
        process: u64,
        node: NodeId,
        host: usize,
        invoke: u64,
        complete: u64,
        at: u64,
        what: Plan,
    }
    enum Plan {
        Write { value: String, end: End },
        LeaderRead,
        DnsRead { bracketed: bool },
    }

    let mut rng = Rng(seed);
    let lag: Vec<u64> = (0..NODES).map(|_| rng.below(30)).collect();
    let mut clock = [0u64; CLIENTS];
    let mut process: Vec<u64> = (0..CLIENTS as u64).collect();
    let mut next_process = CLIENTS as u64;
    let mut log: Vec<(u64, u64, usize, String, u64)> = Vec::new();
    let mut planned = Vec::with_capacity(ops);
    for n in 0..ops {
        let client = rng.below(CLIENTS as u64) as usize;
        let invoke = clock[client] + rng.below(20);
        let complete = invoke + 1 + rng.below(40);
        clock[client] = complete + 1;
        let at = invoke + rng.below(complete - invoke + 1);
        let (host, node) = (rng.below(hosts as u64) as usize, 1 + rng.below(NODES) as NodeId);
        let what = match rng.below(3) {
            0 => {
                let value = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
                let end = match rng.below(10) {
                    0 => End::Fail(complete),
                    1 => End::Info(complete),
                    _ => End::Ok(complete),
                };
                let p = process[client];
                match end {
                    End::Ok(_) => log.push((at, rng.next(), host, value.clone(), p)),
                    End::Info(_) if rng.chance(50) => {
                        log.push((invoke + rng.below(100), rng.next(), host, value.clone(), p))
                    }
                    _ => {}
                }
                Plan::Write { value, end }
            }
            1 => Plan::LeaderRead,
            _ => Plan::DnsRead { bracketed: rng.chance(90) },
        };
        planned.push(Planned { process: process[client], node, host, invoke, complete, at, what });
        if matches!(planned.last(), Some(Planned { what: Plan::Write { end: End::Info(_), .. }, .. })) {
            process[client] = next_process;
            next_process += 1;
        }
    }
    log.sort_by_key(|(at, tie, ..)| (*at, *tie));
    // Per host: (log position, effect time, value), in log order.
    let mut by_host: Vec<Vec<(usize, u64, &str)>> = vec![Vec::new(); hosts];
    for (position, (at, _, host, value, _)) in log.iter().enumerate() {
        by_host[*host].push((position, *at, value));
    }
    let value_at = |host: usize, t: u64| {
        let entries = &by_host[host];
        entries[..entries.partition_point(|(_, at, _)| *at <= t)].last().map(|(_, _, v)| *v)
    };
    let applied = |node: NodeId, t: u64| log.partition_point(|(at, ..)| at + lag[node as usize - 1] <= t);
    let value_at_serial = |host: usize, applied: usize| {
        let entries = &by_host[host];
        entries[..entries.partition_point(|(position, ..)| *position < applied)].last().map(|(_, _, v)| *v)
    };
    let serial = |applied: usize| applied as u32 + 1;

    let mut builder = Builder::new();
    for op in &planned {
        let host = format!("h{}", op.host);
        builder = match &op.what {
            Plan::Write { value, end } => builder.write(op.process, op.node, &host, value, op.invoke, *end),
            Plan::LeaderRead => {
                builder.leader_read(op.process, op.node, &host, op.invoke, op.complete, value_at(op.host, op.at))
            }
            Plan::DnsRead { bracketed } => {
                let now = applied(op.node, op.at);
                let before = applied(op.node, op.invoke);
                let result = OpResult::Read {
                    value: value_at_serial(op.host, now).map(Into::into),
                    serial: bracketed.then_some(serial(now)),
                    serial_before: Some(serial(if *bracketed { now } else { before })),
                };
                builder.read(op.process, op.node, Op::DnsRead { host }, op.invoke, op.complete, result)
            }
        };
    }
    let end = clock.iter().max().copied().unwrap_or(0) + 300;
    builder = builder.converged(end, Some(120), 30_000);
    for node in 1..=NODES as NodeId {
        for h in 0..hosts {
            let t = end + 1 + u64::from(node) * hosts as u64 + h as u64;
            builder = builder.final_read(node, &format!("h{h}"), value_at_serial(h, log.len()), serial(log.len()), t);
        }
    }
    // The replicated history of every host, as node 1 returns it after the final reads.
    for (h, logged) in by_host.iter().enumerate() {
        let mut old: Option<&str> = None;
        let mut entries = Vec::new();
        for (position, _, value) in logged {
            let process = log[*position].4;
            entries.push(good(*position as u64 + 1, process, old, value));
            old = Some(value);
        }
        builder = builder.host_history(1, &format!("h{h}"), end + 1000 + h as u64, entries);
    }
    builder.build()
}
