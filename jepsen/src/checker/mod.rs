//! The history checkers: one invariant per file, each returning a [`CheckResult`].
//!
//! # API (what the runner calls)
//!
//! ```text
//! pub fn check_all(history: &History) -> Vec<CheckResult>
//! pub fn check_file(path: &std::path::Path) -> Result<Vec<CheckResult>, String>
//! pub struct CheckResult { pub name: String, pub passed: bool, pub checked: u64,
//!     pub checked_what: String, pub anomaly_count: u64, pub anomalies: Vec<String>,
//!     pub measurements: BTreeMap<String, u64> }   // Display: PASS/FAIL line + anomalies
//! pub struct Summary { pub passed: bool, pub results: Vec<CheckResult> }
//! impl Summary { pub fn new(results: Vec<CheckResult>) -> Summary }
//! impl Display for Summary   // one block per checker, for the terminal
//! impl Serialize for Summary // results/summary.json: serde_json::to_writer_pretty(file, &summary)
//! ```
//!
//! [`check_all`] runs, in this order: `well_formed` (the history obeys the rules in
//! [`crate::history`]), `lost_write`, `phantom_read`, `linearizable`, `serial_divergence`,
//! `serial_monotonic`, `convergence`, `duplicate_request`, `revert`, `joins`,
//! `credentials`. When operations cannot even be paired (a completion
//! without an invocation, a second invocation in flight), only the failed `well_formed`
//! result is returned: the other checkers need the pairs. A malformed history is never a
//! panic.
//!
//! Each [`CheckResult`] names its invariant, says whether it held, how many things it
//! checked (and what they were), and lists at most [`MAX_ANOMALIES`] human-readable
//! anomalies (the total is in `anomaly_count`), each naming the offending operations:
//! process, node, host, values, times (seconds since the start of the run). Checkers that
//! measure something (convergence time) put it in `measurements`.

mod convergence;
mod credentials;
mod duplicate_request;
mod joins;
mod linearizable;
mod lost_write;
mod phantom_read;
mod revert;
mod serial_divergence;
mod serial_monotonic;
mod well_formed;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::history::{Completed, Event, History, NodeId, Op, OpResult, Outcome};

/// How many anomalies a result lists; the rest are only counted.
pub const MAX_ANOMALIES: usize = 50;

/// The verdict of one checker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The invariant, e.g. `lost_write` (the checker's file name).
    pub name: String,
    /// True when no anomaly was found.
    pub passed: bool,
    /// How many things were checked ...
    pub checked: u64,
    /// ... and what they were, e.g. `final reads (node, host)`.
    pub checked_what: String,
    /// How many anomalies were found (only the first [`MAX_ANOMALIES`] are listed).
    pub anomaly_count: u64,
    pub anomalies: Vec<String>,
    /// What the checker measured, e.g. `convergence_ms`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measurements: BTreeMap<String, u64>,
}

impl CheckResult {
    fn new(name: &str, checked_what: &str) -> Self {
        CheckResult {
            name: name.to_string(),
            passed: true,
            checked: 0,
            checked_what: checked_what.to_string(),
            anomaly_count: 0,
            anomalies: Vec::new(),
            measurements: BTreeMap::new(),
        }
    }

    fn anomaly(&mut self, text: String) {
        self.passed = false;
        self.anomaly_count += 1;
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(text);
        }
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{verdict} {}: {} {} checked", self.name, self.checked, self.checked_what)?;
        if !self.passed {
            write!(f, ", {} anomalies", self.anomaly_count)?;
        }
        for (name, value) in &self.measurements {
            write!(f, ", {name} = {value}")?;
        }
        for anomaly in &self.anomalies {
            write!(f, "\n  - {anomaly}")?;
        }
        let unlisted = self.anomaly_count.saturating_sub(self.anomalies.len() as u64);
        if unlisted > 0 {
            write!(f, "\n  ... and {unlisted} more")?;
        }
        Ok(())
    }
}

/// All verdicts of a run: what the runner writes to `results/summary.json` and prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// True when every checker passed.
    pub passed: bool,
    pub results: Vec<CheckResult>,
}

impl Summary {
    pub fn new(results: Vec<CheckResult>) -> Summary {
        Summary { passed: results.iter().all(|r| r.passed), results }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            writeln!(f, "{result}")?;
        }
        write!(f, "{}", if self.passed { "all checkers passed" } else { "SOME CHECKERS FAILED" })
    }
}

/// Runs every checker on the history (see the module doc for the order and for what
/// happens with a history whose operations cannot be paired).
pub fn check_all(history: &History) -> Vec<CheckResult> {
    let ops = match history.completed() {
        Ok(ops) => ops,
        Err(e) => return vec![well_formed::unpairable(&e)],
    };
    let prepared = Prepared::new(&history.events, ops);
    vec![
        well_formed::check(&prepared),
        lost_write::check(&prepared),
        phantom_read::check(&prepared),
        linearizable::check(&prepared),
        serial_divergence::check(&prepared),
        serial_monotonic::check(&prepared),
        convergence::check(&prepared),
        duplicate_request::check(&prepared),
        revert::check(&prepared),
        joins::check(&prepared),
        credentials::check(&prepared),
    ]
}

/// Reads a saved `history.jsonl` and runs every checker on it (the runner's `check`
/// subcommand). Errors on an unreadable file or a line that is not an [`Event`].
pub fn check_file(path: &Path) -> Result<Vec<CheckResult>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let history = History::read_jsonl(std::io::BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(check_all(&history))
}

/// The history with operations paired and writes indexed by value, shared by the checkers.
struct Prepared<'a> {
    events: &'a [Event],
    ops: Vec<Completed>,
    /// Value -> index in `ops` of the first write of that value (values are unique by the
    /// runner's rules; `well_formed` reports a value written twice).
    write_by_value: HashMap<String, usize>,
}

impl<'a> Prepared<'a> {
    fn new(events: &'a [Event], ops: Vec<Completed>) -> Self {
        let mut write_by_value = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if let Op::Write { value, .. } = &op.op {
                write_by_value.entry(value.clone()).or_insert(i);
            }
        }
        Prepared { events, ops, write_by_value }
    }

    /// The write of `value` to any host, if one was invoked.
    fn write_of(&self, value: &str) -> Option<&Completed> {
        self.write_by_value.get(value).map(|&i| &self.ops[i])
    }

    /// Successful reads (leader and DNS) with their results.
    fn ok_reads(&self) -> impl Iterator<Item = ReadObs<'_>> {
        self.ops.iter().filter_map(ReadObs::of)
    }

    /// The `Final` events.
    fn finals(&self) -> impl Iterator<Item = FinalObs<'_>> {
        self.events.iter().filter_map(|e| match e {
            Event::Final { time_ns, node, host, value, serial } => {
                Some(FinalObs { time_ns: *time_ns, node: *node, host, value: value.as_deref(), serial: *serial })
            }
            _ => None,
        })
    }
}

/// A node's answer together with the SOA serial it was given at: a successful DNS read
/// or a final read.
struct SerialObs<'a> {
    node: NodeId,
    host: &'a str,
    value: Option<&'a str>,
    invoke_ns: u64,
    complete_ns: u64,
    /// The serial seen first (before the read).
    before: Option<u32>,
    /// The serial the answer belongs to (the SOA bracket held).
    bracketed: Option<u32>,
    source: Source<'a>,
}

enum Source<'a> {
    Read(&'a Completed),
    Final(FinalObs<'a>),
}

impl fmt::Display for SerialObs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Read(op) => write!(f, "{}", describe(op)),
            Source::Final(fin) => write!(f, "{fin}"),
        }
    }
}

impl Prepared<'_> {
    /// Successful DNS reads and final reads, in history order (final reads last).
    fn serial_observations(&self) -> Vec<SerialObs<'_>> {
        let reads = self.ok_reads().filter(|r| matches!(r.op.op, Op::DnsRead { .. })).map(|r| SerialObs {
            node: r.op.node,
            host: r.op.op.host(),
            value: r.value,
            invoke_ns: r.op.invoke_ns,
            complete_ns: r.complete_ns,
            before: r.serial_before,
            bracketed: r.serial,
            source: Source::Read(r.op),
        });
        let finals = self.finals().map(|f| SerialObs {
            node: f.node,
            host: f.host,
            value: f.value,
            invoke_ns: f.time_ns,
            complete_ns: f.time_ns,
            before: Some(f.serial),
            bracketed: Some(f.serial),
            source: Source::Final(f),
        });
        reads.chain(finals).collect()
    }
}

/// A successful read and what it returned.
struct ReadObs<'a> {
    op: &'a Completed,
    complete_ns: u64,
    value: Option<&'a str>,
    serial: Option<u32>,
    serial_before: Option<u32>,
}

impl<'a> ReadObs<'a> {
    /// `Some` for a read operation (leader or DNS) that completed Ok with a read result.
    fn of(op: &'a Completed) -> Option<Self> {
        match (&op.op, &op.outcome, op.complete_ns) {
            (
                Op::LeaderRead { .. } | Op::DnsRead { .. },
                Outcome::Ok(OpResult::Read { value, serial, serial_before }),
                Some(complete_ns),
            ) => Some(ReadObs {
                op,
                complete_ns,
                value: value.as_deref(),
                serial: *serial,
                serial_before: *serial_before,
            }),
            _ => None,
        }
    }
}

/// One `Final` event.
struct FinalObs<'a> {
    time_ns: u64,
    node: NodeId,
    host: &'a str,
    value: Option<&'a str>,
    serial: u32,
}

impl fmt::Display for FinalObs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "final read on node {} of {} = {} at serial {} at {}",
            self.node,
            self.host,
            show_value(self.value),
            self.serial,
            show_time(self.time_ns)
        )
    }
}

/// How a write ended, as the checkers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteStatus {
    Acked,
    Unknown,
    Failed,
}

fn write_status(op: &Completed) -> WriteStatus {
    match &op.outcome {
        Outcome::Ok(_) => WriteStatus::Acked,
        Outcome::Info(_) => WriteStatus::Unknown,
        Outcome::Fail(_) => WriteStatus::Failed,
    }
}

/// Seconds since the start of the run, to the nanosecond.
fn show_time(ns: u64) -> String {
    format!("{}.{:09}s", ns / 1_000_000_000, ns % 1_000_000_000)
}

fn show_value(value: Option<&str>) -> String {
    value.unwrap_or("<none>").to_string()
}

/// One operation in an anomaly: `process 7 on node 2: write h1 := 10.0.0.1 (op-7-1) [1.2s .. 1.3s] ok`.
fn describe(op: &Completed) -> String {
    let what = match &op.op {
        Op::Write { host, value, request: Some(request) } => format!("write {host} := {value} ({request})"),
        Op::Write { host, value, request: None } => format!("write {host} := {value}"),
        Op::LeaderRead { host } => format!("leader read {host}"),
        Op::DnsRead { host } => format!("dns read {host}"),
    };
    let end = op.complete_ns.map_or_else(|| "still in flight".to_string(), show_time);
    let outcome = match &op.outcome {
        Outcome::Ok(OpResult::Written) => "ok".to_string(),
        Outcome::Ok(OpResult::Read { value, serial, serial_before }) => format!(
            "ok -> {}{}{}",
            show_value(value.as_deref()),
            serial.map_or_else(String::new, |s| format!(" at serial {s}")),
            match (serial, serial_before) {
                (None, Some(before)) => format!(" (serial before {before}, bracket broken)"),
                _ => String::new(),
            },
        ),
        Outcome::Fail(e) => format!("failed ({e})"),
        Outcome::Info(e) => format!("unknown ({e})"),
    };
    format!("process {} on node {}: {what} [{} .. {end}] {outcome}", op.process, op.node, show_time(op.invoke_ns))
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests {
    use super::test_support::{good_history, simulated_cluster, Builder, End};
    use super::*;

    #[test]
    fn good_history_passes_every_checker() {
        let summary = Summary::new(check_all(&good_history()));
        assert!(summary.passed, "{summary}");
        let names: Vec<&str> = summary.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "well_formed",
                "lost_write",
                "phantom_read",
                "linearizable",
                "serial_divergence",
                "serial_monotonic",
                "convergence",
                "duplicate_request",
                "revert",
                "joins",
                "credentials"
            ]
        );
        let json = serde_json::to_string(&summary).expect("a summary serializes");
        let back: Summary = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back, summary);
    }

    #[test]
    fn one_bad_history_fails_several_checkers() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(1, 1, "h1", "10.0.0.2", 30, End::Ok(40))
            .leader_read(2, 2, "h1", 41, 45, Some("10.0.0.1"))
            .dns_read(3, 2, "h1", 46, 47, Some("10.0.0.1"), 5)
            .dns_read(3, 3, "h1", 48, 49, Some("10.0.0.2"), 5)
            .final_read(1, "h1", Some("10.0.0.1"), 4, 100)
            .final_read(2, "h1", Some("10.0.0.2"), 6, 101)
            .converged(99, None, 30_000)
            .build();
        let summary = Summary::new(check_all(&h));
        eprintln!("{summary}");
        let failed: Vec<&str> = summary.results.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
        // No replicated history was recorded either: duplicate_request cannot check h1.
        assert_eq!(failed, ["lost_write", "linearizable", "serial_divergence", "convergence", "duplicate_request"]);
        assert!(summary.to_string().ends_with("SOME CHECKERS FAILED"));
    }

    #[test]
    fn anomalies_are_capped_but_counted() {
        let mut builder = Builder::new().converged(0, Some(1), 10);
        for p in 0..(MAX_ANOMALIES as u64 + 10) {
            builder = builder.dns_read(p, 1, "h1", 2 * p + 1, 2 * p + 2, Some("10.6.6.6"), 1);
        }
        let summary = Summary::new(check_all(&builder.build()));
        assert!(!summary.passed);
        let phantom = summary.results.iter().find(|r| r.name == "phantom_read").expect("phantom_read runs");
        assert_eq!(phantom.anomaly_count, MAX_ANOMALIES as u64 + 10);
        assert_eq!(phantom.anomalies.len(), MAX_ANOMALIES);
        assert!(phantom.to_string().ends_with("... and 10 more"), "{phantom}");
    }

    #[test]
    fn check_file_reads_a_saved_history() {
        let dir = std::env::temp_dir().join(format!("quorumdns-jepsen-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("history.jsonl");
        let history = Builder::new().write(1, 1, "h1", "10.0.0.1", 1, End::Ok(2)).build();
        history.write_jsonl(std::fs::File::create(&path).expect("create")).expect("write");
        let results = check_file(&path).expect("a well-formed file");
        assert_eq!(results.len(), 11);
        std::fs::write(&path, "{\"type\": \"nonsense\"}\n").expect("write");
        let error = check_file(&path).expect_err("a malformed line is an error");
        assert!(error.contains("line 1"), "{error}");
        assert!(check_file(&dir.join("missing.jsonl")).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn simulated_correct_clusters_pass_every_checker() {
        for seed in 1..=8 {
            let history = simulated_cluster(seed, 3000, 1 + seed as usize % 4);
            let summary = Summary::new(check_all(&history));
            assert!(summary.passed, "seed {seed}:\n{summary}");
            let checked = |name: &str| summary.results.iter().find(|r| r.name == name).map_or(0, |r| r.checked);
            assert!(
                checked("linearizable") > 1500
                    && checked("serial_divergence") > 500
                    && checked("serial_monotonic") > 500
            );
        }
    }

    /// 100k operations through every checker: run with `--release -- --ignored` to time it.
    #[test]
    #[ignore]
    fn hundred_thousand_ops_under_a_second() {
        let history = simulated_cluster(42, 100_000, 20);
        let started = std::time::Instant::now();
        let summary = Summary::new(check_all(&history));
        let elapsed = started.elapsed();
        eprintln!("{summary}\ncheck_all: {} events in {elapsed:?}", history.events.len());
        assert!(summary.passed);
        let started = std::time::Instant::now();
        let prepared = Prepared::new(&history.events, history.completed().expect("pairs"));
        let paired = started.elapsed();
        let linearizable = linearizable::check(&prepared);
        eprintln!(
            "pairing: {paired:?}; then linearizable: {} ops in {:?}",
            linearizable.checked,
            started.elapsed() - paired
        );
        assert!(elapsed < std::time::Duration::from_secs(1), "{elapsed:?}");
    }
}
