//! `lost_write`: every acknowledged update is present at the end on every node.
//!
//! For each host with at least one acknowledged write, every node that reported final reads
//! must have a `Final` for the host, whose value is the value of a write of that host that
//! was acknowledged or unknown (not failed) and that is not superseded: an acknowledged
//! write `w` is lost if it completed before some other acknowledged write `w'` of the host
//! was invoked (`w` real-time-precedes `w'`, so `w'` must be ordered after it). An unknown
//! write may take effect any time after its invocation, so it is never superseded by
//! real-time order. Cost: O(ops + finals).

use std::collections::{BTreeSet, HashMap};

use super::{describe, write_status, CheckResult, FinalObs, Prepared, WriteStatus};
use crate::history::{Completed, NodeId, Op};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("lost_write", "final reads (node, host) of acknowledged hosts");

    // Per host: the acknowledged write invoked last.
    let mut last_acked: HashMap<&str, &Completed> = HashMap::new();
    for op in &p.ops {
        if matches!(op.op, Op::Write { .. }) && write_status(op) == WriteStatus::Acked {
            let slot = last_acked.entry(op.op.host()).or_insert(op);
            if op.invoke_ns > slot.invoke_ns {
                *slot = op;
            }
        }
    }

    let mut finals: HashMap<(NodeId, &str), Vec<FinalObs>> = HashMap::new();
    for f in p.finals() {
        finals.entry((f.node, f.host)).or_default().push(f);
    }
    let nodes: BTreeSet<NodeId> = finals.keys().map(|(node, _)| *node).collect();
    if nodes.is_empty() && !last_acked.is_empty() {
        result.anomaly(format!("no final reads, but {} hosts had acknowledged writes", last_acked.len()));
    }

    let mut hosts: Vec<(&str, &Completed)> = last_acked.into_iter().collect();
    hosts.sort_by_key(|(host, _)| *host);
    for (host, last) in hosts {
        for &node in &nodes {
            let Some(observed) = finals.get(&(node, host)) else {
                result.anomaly(format!(
                    "node {node} reported no final read of {host}, which had acknowledged writes (last: {})",
                    describe(last)
                ));
                continue;
            };
            for f in observed {
                result.checked += 1;
                if let Some(problem) = final_problem(p, f, last) {
                    result.anomaly(format!("{f}: {problem}"));
                }
            }
        }
    }
    result
}

/// Why a final read of a host with acknowledged writes shows a lost write, if it does.
fn final_problem(p: &Prepared, f: &FinalObs, last_acked: &Completed) -> Option<String> {
    let Some(value) = f.value else {
        return Some(format!(
            "acknowledged write lost, the host has no address (last acknowledged: {})",
            describe(last_acked)
        ));
    };
    let write = match p.write_of(value) {
        Some(w) if w.op.host() == f.host => w,
        _ => return Some(format!("value never written to {}", f.host)),
    };
    match write_status(write) {
        WriteStatus::Failed => Some(format!("value of a failed write: {}", describe(write))),
        WriteStatus::Unknown => None,
        WriteStatus::Acked => match write.complete_ns {
            Some(done) if done < last_acked.invoke_ns => Some(format!(
                "acknowledged write lost: the value's write {} completed before {} was invoked",
                describe(write),
                describe(last_acked)
            )),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, assert_passed, passes_good_history, run, Builder, End};
    use super::*;

    #[test]
    fn good_history_loses_nothing() {
        passes_good_history(check, 3);
    }

    #[test]
    fn acked_write_missing_from_the_final_state() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(2, 2, "h1", "10.0.0.2", 30, End::Ok(40))
            .final_read(1, "h1", Some("10.0.0.2"), 3, 100)
            .final_read(2, "h1", Some("10.0.0.1"), 3, 101)
            .final_read(3, "h1", None, 1, 102)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["node 2", "acknowledged write lost", "process 1", "process 2"]);
        assert_anomaly(&result, &["node 3", "has no address"]);
        assert_eq!(result.anomaly_count, 2);
    }

    #[test]
    fn concurrent_and_unknown_writes_may_win() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(30))
            .write(2, 2, "h1", "10.0.0.2", 20, End::Ok(40))
            .write(3, 2, "h1", "10.0.0.3", 5, End::Info(6))
            .final_read(1, "h1", Some("10.0.0.1"), 3, 100)
            .final_read(2, "h1", Some("10.0.0.3"), 3, 101)
            .build();
        assert_passed(&run(&h, check));
    }

    #[test]
    fn missing_final_failed_write_and_foreign_value() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(2, 1, "h1", "10.0.0.2", 30, End::Fail(31))
            .write(3, 1, "h2", "10.0.0.3", 32, End::Ok(33))
            .final_read(1, "h1", Some("10.0.0.2"), 3, 100)
            .final_read(2, "h1", Some("10.0.0.3"), 3, 101)
            .final_read(3, "h2", Some("10.0.0.3"), 3, 102)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["node 1", "failed write", "process 2"]);
        assert_anomaly(&result, &["node 2", "never written to h1"]);
        assert_anomaly(&result, &["node 3 reported no final read of h1"]);
        assert_anomaly(&result, &["node 1 reported no final read of h2"]);
    }
}
