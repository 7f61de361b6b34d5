//! `linearizable`: for each host, the acknowledged updates and the reads on the leader path
//! form a linearizable register history (initial value: no address).
//!
//! The register history of a host is made of its writes that were acknowledged (interval
//! `[invoke, complete]`) or unknown (`[invoke, ∞)`: they may take effect at any time after
//! their invocation, or never), and its successful leader reads. Failed writes are left
//! out (a read of their value has no write to read from). Real-time order is strict:
//! `a` precedes `b` when `a` completed before `b` was invoked.
//!
//! # Algorithm (Gibbons & Korach, the read-mapping register case)
//!
//! Every write writes a fresh value, so each read maps to the one write it read from (or
//! to the initial value, modelled as a virtual write over `[0, 0]` before every real
//! operation). A *cluster* is a write with the reads of its value; in any linearization a
//! cluster occupies a contiguous block (write first, then its reads). For each cluster let
//! `f` be the earliest completion and `s` the latest invocation among its operations:
//! - `f < s`: a *forward zone* `[f, s]`: the block must start at or before `f` and end at or
//!   after `s`, so no other cluster can be placed strictly inside `(f, s)`;
//! - `s <= f`: a *backward zone* `[s, f]`: all its operations overlap `[s, f]`, and the
//!   block can be placed at any single instant there.
//!
//! The history is linearizable iff (1) no read completes before its write is invoked,
//! (2) no two forward zones overlap (`max(f1, f2) < min(s1, s2)`), and (3) no backward
//! zone lies strictly inside a forward zone (`f1 < s2 <= f2 < s1`). An unknown write that
//! nobody read is dropped (it never took effect); one that was read has completion ∞,
//! so its cluster is constrained by its reads. Ties are concurrency: zones that only touch
//! do not conflict.
//!
//! Cost: O(n) to build the clusters, O(z log z) to sort the z forward zones, and a binary
//! search per backward zone: O(n log n) per host. The tests check it against an exhaustive
//! search on thousands of small random histories.

use std::collections::HashMap;

use super::{describe, show_time, write_status, CheckResult, Prepared, ReadObs, WriteStatus};
use crate::history::{Completed, Op};

/// A write of a register history; `complete: None` when its outcome is unknown.
#[derive(Clone, Copy, Debug)]
pub(super) struct RegWrite {
    pub invoke: u64,
    pub complete: Option<u64>,
}

/// What a read returned: the initial value, a write's value, or a value no write of the
/// register wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum ReadOf {
    Initial,
    Write(usize),
    Nothing,
}

/// A successful read of a register history.
#[derive(Clone, Copy, Debug)]
pub(super) struct RegRead {
    pub invoke: u64,
    pub complete: u64,
    pub of: ReadOf,
}

/// An operation of a register history, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OpRef {
    /// The virtual write of the initial value.
    Initial,
    Write(usize),
    Read(usize),
}

/// Times inside the algorithm: real time `t` is `t + 1`, the initial virtual write is at 0,
/// and an unknown write completes at `INFINITY`.
type Time = u128;
const INFINITY: Time = Time::MAX;

fn time(t: u64) -> Time {
    Time::from(t) + 1
}

/// A cluster's zone: from `lo` (set by operation `lo_op`) to `hi` (set by `hi_op`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Zone {
    /// The write of the cluster (`OpRef::Initial` or `OpRef::Write`).
    pub write: OpRef,
    pub lo: Time,
    pub lo_op: OpRef,
    pub hi: Time,
    pub hi_op: OpRef,
}

/// Why a register history is not linearizable.
#[derive(Clone, Copy, Debug)]
pub(super) enum Violation {
    /// The read returned a value no (non-failed) write of the register wrote.
    ReadOfNothing { read: usize },
    /// The read completed before the write of its value was invoked.
    ReadBeforeWrite { read: usize, write: usize },
    /// Two clusters each need the register for an interval, and the intervals overlap.
    ForwardZonesOverlap { first: Zone, second: Zone },
    /// A cluster must be placed inside another cluster's interval.
    BackwardInsideForward { backward: Zone, forward: Zone },
}

/// A cluster being built: earliest completion and latest invocation, with who set them.
#[derive(Clone, Copy)]
struct Cluster {
    first_complete: (Time, OpRef),
    last_invoke: (Time, OpRef),
    read: bool,
}

impl Cluster {
    fn add(&mut self, invoke: Time, complete: Time, op: OpRef) {
        if complete < self.first_complete.0 {
            self.first_complete = (complete, op);
        }
        if invoke > self.last_invoke.0 {
            self.last_invoke = (invoke, op);
        }
        self.read = true;
    }
}

/// Checks one register history; returns every violation found (none: linearizable).
pub(super) fn check_register(writes: &[RegWrite], reads: &[RegRead]) -> Vec<Violation> {
    let mut violations = Vec::new();
    let initial = Cluster { first_complete: (0, OpRef::Initial), last_invoke: (0, OpRef::Initial), read: false };
    let mut clusters: Vec<Cluster> = std::iter::once(initial)
        .chain(writes.iter().enumerate().map(|(i, w)| {
            let complete = w.complete.map_or(INFINITY, time);
            Cluster {
                first_complete: (complete, OpRef::Write(i)),
                last_invoke: (time(w.invoke), OpRef::Write(i)),
                read: false,
            }
        }))
        .collect();
    for (j, r) in reads.iter().enumerate() {
        let cluster = match r.of {
            ReadOf::Initial => 0,
            ReadOf::Write(i) if i < writes.len() => {
                if r.complete < writes[i].invoke {
                    violations.push(Violation::ReadBeforeWrite { read: j, write: i });
                    continue;
                }
                i + 1
            }
            ReadOf::Write(_) | ReadOf::Nothing => {
                violations.push(Violation::ReadOfNothing { read: j });
                continue;
            }
        };
        clusters[cluster].add(time(r.invoke), time(r.complete), OpRef::Read(j));
    }

    let mut forward = Vec::new();
    let mut backward = Vec::new();
    for (c, cluster) in clusters.iter().enumerate() {
        let write = if c == 0 { OpRef::Initial } else { OpRef::Write(c - 1) };
        let unknown_unread = c > 0 && writes[c - 1].complete.is_none() && !cluster.read;
        if unknown_unread {
            continue;
        }
        let (f, s) = (cluster.first_complete, cluster.last_invoke);
        if f.0 < s.0 {
            forward.push(Zone { write, lo: f.0, lo_op: f.1, hi: s.0, hi_op: s.1 });
        } else {
            backward.push(Zone { write, lo: s.0, lo_op: s.1, hi: f.0, hi_op: f.1 });
        }
    }

    // (2) Forward zones sorted by start; each must start at or after the furthest end so far.
    forward.sort_by_key(|z| z.lo);
    let mut furthest: Vec<usize> = Vec::with_capacity(forward.len());
    for (k, zone) in forward.iter().enumerate() {
        if let Some(&best) = furthest.last() {
            if zone.lo < forward[best].hi {
                violations.push(Violation::ForwardZonesOverlap { first: forward[best], second: *zone });
            }
        }
        let best = match furthest.last() {
            Some(&best) if forward[best].hi >= zone.hi => best,
            _ => k,
        };
        furthest.push(best);
    }

    // (3) Of the forward zones starting strictly before a backward zone, the one reaching
    // furthest must not end strictly after it.
    for zone in &backward {
        let starting_before = forward.partition_point(|z| z.lo < zone.lo);
        if starting_before > 0 {
            let enclosing = forward[furthest[starting_before - 1]];
            if enclosing.hi > zone.hi {
                violations.push(Violation::BackwardInsideForward { backward: *zone, forward: enclosing });
            }
        }
    }
    violations
}

/// One host's register history, with the operations behind its indices.
#[derive(Default)]
struct HostRegister<'a> {
    writes: Vec<RegWrite>,
    write_ops: Vec<&'a Completed>,
    write_of_value: HashMap<&'a str, usize>,
    reads: Vec<RegRead>,
    read_ops: Vec<&'a Completed>,
}

impl HostRegister<'_> {
    fn op(&self, op: OpRef) -> String {
        match op {
            OpRef::Initial => "the initial state (no address)".to_string(),
            OpRef::Write(i) => describe(self.write_ops[i]),
            OpRef::Read(j) => describe(self.read_ops[j]),
        }
    }

    fn value(&self, zone: &Zone) -> &str {
        match zone.write {
            OpRef::Write(i) => match &self.write_ops[i].op {
                Op::Write { value, .. } => value,
                _ => "?",
            },
            _ => "<none>",
        }
    }

    /// A forward zone: the value must stay current from `lo` (an operation of its cluster
    /// completed) to `hi` (another was invoked).
    fn forward(&self, zone: &Zone) -> String {
        format!(
            "{} must stay current over [{} .. {}]: {} completed before {} was invoked",
            self.value(zone),
            show_zone_time(zone.lo),
            show_zone_time(zone.hi),
            self.op(zone.lo_op),
            self.op(zone.hi_op)
        )
    }

    /// A backward zone: the value must be written and read within `[lo, hi]`.
    fn backward(&self, zone: &Zone) -> String {
        let by = if zone.lo_op == zone.hi_op {
            self.op(zone.lo_op)
        } else {
            format!("{} was invoked last and {} completed first", self.op(zone.lo_op), self.op(zone.hi_op))
        };
        format!(
            "{} must be written and read within [{} .. {}]: {by}",
            self.value(zone),
            show_zone_time(zone.lo),
            show_zone_time(zone.hi)
        )
    }

    fn explain(&self, host: &str, violation: &Violation) -> String {
        match violation {
            Violation::ReadOfNothing { read } => {
                format!("{host}: {} read a value no acknowledged or unknown write of {host} wrote", self.op(OpRef::Read(*read)))
            }
            Violation::ReadBeforeWrite { read, write } => format!(
                "{host}: {} completed before its value's write was invoked: {}",
                self.op(OpRef::Read(*read)),
                self.op(OpRef::Write(*write))
            ),
            Violation::ForwardZonesOverlap { first, second } => {
                format!("{host}: two values must each stay current over overlapping intervals: {}; and {}", self.forward(first), self.forward(second))
            }
            Violation::BackwardInsideForward { backward, forward } => format!(
                "{host}: a value must be written and read while another must stay current (a stale read, or writes out of order): {}; but {}",
                self.backward(backward),
                self.forward(forward)
            ),
        }
    }
}

fn show_zone_time(t: Time) -> String {
    match t {
        0 => "start".to_string(),
        INFINITY => "never".to_string(),
        t => u64::try_from(t - 1).map_or_else(|_| "?".to_string(), show_time),
    }
}

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("linearizable", "writes and leader reads");
    let mut hosts: HashMap<&str, HostRegister> = HashMap::new();
    for op in &p.ops {
        if let Op::Write { host, value, .. } = &op.op {
            let status = write_status(op);
            if status == WriteStatus::Failed {
                continue;
            }
            let register = hosts.entry(host.as_str()).or_default();
            let complete = if status == WriteStatus::Acked { op.complete_ns } else { None };
            register.write_of_value.entry(value.as_str()).or_insert(register.writes.len());
            register.writes.push(RegWrite { invoke: op.invoke_ns, complete });
            register.write_ops.push(op);
        }
    }
    for read in p.ok_reads().filter(|r| matches!(r.op.op, Op::LeaderRead { .. })) {
        let ReadObs { op, complete_ns, value, .. } = read;
        let register = hosts.entry(op.op.host()).or_default();
        let of = match value {
            None => ReadOf::Initial,
            Some(v) => register.write_of_value.get(v).map_or(ReadOf::Nothing, |&i| ReadOf::Write(i)),
        };
        register.reads.push(RegRead { invoke: op.invoke_ns, complete: complete_ns, of });
        register.read_ops.push(op);
    }

    let mut hosts: Vec<(&str, HostRegister)> = hosts.into_iter().collect();
    hosts.sort_by_key(|(host, _)| *host);
    for (host, register) in &hosts {
        result.checked += (register.writes.len() + register.reads.len()) as u64;
        for violation in check_register(&register.writes, &register.reads) {
            result.anomaly(register.explain(host, &violation));
        }
    }
    result
}

#[cfg(test)]
mod tests;
