//! The history of one run: what clients asked (invoke) and what they learned (ok, fail,
//! info = outcome unknown), what the DNS readers saw, what the nemesis did, and the final
//! reads after healing. Written as JSON lines (`history.jsonl`, one [`Event`] per line) by
//! the runner, read back by the checkers.
//!
//! Rules the runner follows and the checkers rely on:
//! - A `process` has at most one operation in flight: every `Invoke` is followed by exactly
//!   one completion (`Ok`, `Fail` or `Info`) of the same process before its next `Invoke`.
//!   A process whose operation ended in `Info` is never reused (a fresh id is taken), as in
//!   Jepsen, because its operation may still take effect at any later time.
//! - `Fail` means the operation certainly did not take effect (rejected before it could
//!   reach the Raft log, e.g. a 4xx answer); anything else that is not a success is `Info`.
//! - Every write of a host writes a value (IPv4 address as text) never written before to
//!   any host, so a value identifies its write.
//! - Every write carries a request id never used before (`op-<process>-<n>`), sent as the
//!   `User-Agent` (`quorumdns-jepsen/<id>`, which quorumdns records in the host's update
//!   history) and as `X-Request-Id`: a [`Event::HostHistory`] entry names the request it
//!   came from.
//! - `time_ns` is monotonic nanoseconds since the start of the run (one clock: the
//!   runner's), and events are appended in time order.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// Index of a cluster node as the runner numbers them (1..=5).
pub type NodeId = u32;

/// One line of `history.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A client starts an operation against `node`.
    Invoke { process: u64, time_ns: u64, node: NodeId, op: Op },
    /// The operation completed successfully with this result.
    Ok { process: u64, time_ns: u64, node: NodeId, result: OpResult },
    /// The operation certainly did not take effect.
    Fail { process: u64, time_ns: u64, node: NodeId, error: String },
    /// The outcome is unknown (timeout, connection reset, 5xx...): it may take effect later.
    Info { process: u64, time_ns: u64, node: NodeId, error: String },
    /// A fault starts (`start: true`) or is healed (`start: false`). A start named
    /// [`WIPE`] with a detail beginning `node N:` says node N is replaced by a new, empty
    /// replica from then on (per-node checks start over for it).
    Nemesis { time_ns: u64, name: String, start: bool, detail: String },
    /// After healing and convergence: what `node` answers for `host` over DNS, with the
    /// node's SOA serial taken before and after (equal, so the answer belongs to it).
    Final { time_ns: u64, node: NodeId, host: String, value: Option<String>, serial: u32 },
    /// After healing: how long until every live node answered the same serial and the same
    /// value for every host (`None`: they did not converge within the runner's bound).
    Converged { time_ns: u64, after_heal_ms: Option<u64>, bound_ms: u64 },
    /// After the final reads: `host`'s replicated update history as `node` returned it
    /// (`GET /api/v1/hosts/{fqdn}/history`), in apply order (log order, and the order
    /// inside an entry that carried several updates). `truncated`: the history held as
    /// many entries as the per-host limit, so older ones may have been evicted.
    HostHistory {
        time_ns: u64,
        node: NodeId,
        host: String,
        #[serde(default)]
        truncated: bool,
        entries: Vec<HistoryEntry>,
    },
    /// A brand-new member (Raft id `raft_id`, never used before) was started empty in
    /// slot `node` at `started_ns` and added, promoted and checked: `joined` when, within
    /// `bound_ms`, it was a voter, ready (`/readyz` 200, not `removed`) and answered a
    /// write with `good`. Recorded when the attempt ends, whatever its outcome.
    Join { time_ns: u64, node: NodeId, raft_id: u64, started_ns: u64, joined: bool, bound_ms: u64, detail: String },
}

/// One entry of a host's replicated update history (one applied update command).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Raft log index of the entry that produced it.
    pub index: u64,
    /// The zone serial after it.
    pub serial: u32,
    /// `good`, `nochg`, `ratelimited`, `badauth`, ...
    pub result: String,
    /// The request's `User-Agent` as the node recorded it.
    pub user_agent: String,
    pub old_ipv4: Option<String>,
    pub new_ipv4: Option<String>,
}

/// The prefix of a write's `User-Agent`; the rest is its request id.
pub const AGENT_PREFIX: &str = "quorumdns-jepsen/";

/// The request id a recorded `User-Agent` carries, if it is one of the workload's.
pub fn request_of_agent(agent: &str) -> Option<&str> {
    agent.strip_prefix(AGENT_PREFIX).filter(|r| r.starts_with("op-"))
}

/// The `Nemesis` name marking a node's replacement by a new, empty replica (the
/// membership nemesis wipes a removed node and adds it back under a new Raft id).
pub const WIPE: &str = "membership-wipe";

/// The node a [`WIPE`] event's detail names (`node N: ...`).
pub fn wiped_node(detail: &str) -> Option<NodeId> {
    detail.strip_prefix("node ")?.split(':').next()?.trim().parse().ok()
}

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// dyndns2 update of `host` to `value` (`/nic/update`), sent to the event's node, as
    /// request `request` (histories written before request ids existed have none).
    Write {
        host: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
    },
    /// Read of `host`'s address through the node's linearizable management read (the
    /// leader path: the node confirms leadership / catches up before answering).
    LeaderRead { host: String },
    /// DNS query for `host` A (UDP, falling back to TCP on TC) to the node, bracketed by
    /// SOA queries: the result carries the serial only if both SOA answers were equal.
    DnsRead { host: String },
}

impl Op {
    /// The host the operation writes or reads.
    pub fn host(&self) -> &str {
        match self {
            Op::Write { host, .. } | Op::LeaderRead { host } | Op::DnsRead { host } => host,
        }
    }
}

/// What a successful operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum OpResult {
    /// The write was acknowledged.
    Written,
    /// The address the node returned (`None`: NXDOMAIN/NODATA).
    Read {
        value: Option<String>,
        /// The node's SOA serial around the read: `Some` only when the serial before and
        /// after the read were equal (then the answer is the zone at that serial).
        serial: Option<u32>,
        /// The serial seen before the read (always present for DNS reads): used by the
        /// serial-monotonicity check even when the bracket did not hold.
        serial_before: Option<u32>,
    },
}

impl Event {
    pub fn time_ns(&self) -> u64 {
        match self {
            Event::Invoke { time_ns, .. }
            | Event::Ok { time_ns, .. }
            | Event::Fail { time_ns, .. }
            | Event::Info { time_ns, .. }
            | Event::Nemesis { time_ns, .. }
            | Event::Final { time_ns, .. }
            | Event::Converged { time_ns, .. }
            | Event::HostHistory { time_ns, .. }
            | Event::Join { time_ns, .. } => *time_ns,
        }
    }

    pub fn process(&self) -> Option<u64> {
        match self {
            Event::Invoke { process, .. }
            | Event::Ok { process, .. }
            | Event::Fail { process, .. }
            | Event::Info { process, .. } => Some(*process),
            _ => None,
        }
    }
}

/// How a completed operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok(OpResult),
    Fail(String),
    /// Unknown: may have taken effect at any time after `invoke_ns`.
    Info(String),
}

/// An operation with its invocation and completion paired up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    pub process: u64,
    pub node: NodeId,
    pub op: Op,
    pub invoke_ns: u64,
    /// `None` when the run ended with the operation still in flight (treated like Info).
    pub complete_ns: Option<u64>,
    pub outcome: Outcome,
}

/// A parsed history with operations paired.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
}

impl History {
    pub fn new(events: Vec<Event>) -> Self {
        History { events }
    }

    pub fn read_jsonl(r: impl BufRead) -> Result<Self, String> {
        let mut events = Vec::new();
        for (n, line) in r.lines().enumerate() {
            let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            events.push(serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", n + 1))?);
        }
        Ok(History { events })
    }

    pub fn write_jsonl(&self, mut w: impl Write) -> std::io::Result<()> {
        for e in &self.events {
            serde_json::to_writer(&mut w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Pairs every Invoke with its process's next completion. An Invoke without a
    /// completion becomes `Info` with `complete_ns: None`. Errors on a completion without
    /// an Invoke or a second Invoke while one is in flight (a runner bug).
    pub fn completed(&self) -> Result<Vec<Completed>, String> {
        use std::collections::HashMap;
        let mut open: HashMap<u64, (NodeId, Op, u64)> = HashMap::new();
        let mut out = Vec::new();
        for e in &self.events {
            match e {
                Event::Invoke { process, time_ns, node, op } => {
                    let previous = open.insert(*process, (*node, op.clone(), *time_ns));
                    if previous.is_some() {
                        return Err(format!("process {process} invoked twice at {time_ns}"));
                    }
                }
                Event::Ok { process, time_ns, .. }
                | Event::Fail { process, time_ns, .. }
                | Event::Info { process, time_ns, .. } => {
                    let (node, op, invoke_ns) = open
                        .remove(process)
                        .ok_or_else(|| format!("process {process} completed at {time_ns} without invoke"))?;
                    let outcome = match e {
                        Event::Ok { result, .. } => Outcome::Ok(result.clone()),
                        Event::Fail { error, .. } => Outcome::Fail(error.clone()),
                        Event::Info { error, .. } => Outcome::Info(error.clone()),
                        _ => unreachable!("matched above"),
                    };
                    out.push(Completed {
                        process: *process,
                        node,
                        op,
                        invoke_ns,
                        complete_ns: Some(*time_ns),
                        outcome,
                    });
                }
                _ => {}
            }
        }
        for (process, (node, op, invoke_ns)) in open {
            out.push(Completed {
                process,
                node,
                op,
                invoke_ns,
                complete_ns: None,
                outcome: Outcome::Info("in flight at end".into()),
            });
        }
        out.sort_by_key(|c| (c.invoke_ns, c.process));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trip_and_pairing() {
        let h = History::new(vec![
            Event::Invoke {
                process: 1,
                time_ns: 10,
                node: 2,
                op: Op::Write { host: "h1".into(), value: "10.0.0.1".into(), request: Some("op-1-1".into()) },
            },
            Event::Invoke { process: 2, time_ns: 11, node: 3, op: Op::DnsRead { host: "h1".into() } },
            Event::Ok { process: 1, time_ns: 20, node: 2, result: OpResult::Written },
            Event::Ok {
                process: 2,
                time_ns: 21,
                node: 3,
                result: OpResult::Read { value: Some("10.0.0.1".into()), serial: Some(7), serial_before: Some(7) },
            },
            Event::Invoke { process: 3, time_ns: 30, node: 1, op: Op::LeaderRead { host: "h1".into() } },
            Event::HostHistory {
                time_ns: 40,
                node: 1,
                host: "h1".into(),
                truncated: false,
                entries: vec![HistoryEntry {
                    index: 7,
                    serial: 7,
                    result: "good".into(),
                    user_agent: "quorumdns-jepsen/op-1-1".into(),
                    old_ipv4: None,
                    new_ipv4: Some("10.0.0.1".into()),
                }],
            },
            Event::Join {
                time_ns: 50,
                node: 4,
                raft_id: 6,
                started_ns: 45,
                joined: true,
                bound_ms: 60_000,
                detail: "voter".into(),
            },
        ]);
        let mut buf = Vec::new();
        h.write_jsonl(&mut buf).unwrap();
        let back = History::read_jsonl(&buf[..]).unwrap();
        assert_eq!(back.events, h.events);
        let c = back.completed().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[2].complete_ns, None);
        assert_eq!(request_of_agent("quorumdns-jepsen/op-1-1"), Some("op-1-1"));
        assert_eq!(request_of_agent("quorumdns-jepsen/0"), None);
        // A history written before request ids, host histories and joins still reads.
        let old =
            r#"{"type":"invoke","process":1,"time_ns":1,"node":1,"op":{"f":"write","host":"h1","value":"10.0.0.1"}}"#;
        let back = History::read_jsonl(old.as_bytes()).unwrap();
        assert!(matches!(&back.events[0], Event::Invoke { op: Op::Write { request: None, .. }, .. }));
        assert!(matches!(c[2].outcome, Outcome::Info(_)));
    }

    #[test]
    fn completion_without_invoke_is_an_error() {
        let h = History::new(vec![Event::Ok { process: 9, time_ns: 1, node: 1, result: OpResult::Written }]);
        assert!(h.completed().is_err());
    }
}
