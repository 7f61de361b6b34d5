//! `joins`: every brand-new member the nemesis added became a working voter in time.
//!
//! The membership nemeses start a node empty under a Raft id never used before, add it as
//! a learner, promote it, and then record a [`Event::Join`]: `joined` when, within the
//! bound, the leader listed it as a voter, its `/readyz` answered 200 (so it did not
//! decide it was removed) and it answered a write with `good`. Every recorded join must
//! have succeeded, within its bound (measured from the start of the empty node to the
//! record). A history without joins passes with nothing checked. Measurements:
//! `joins`, `joins_failed`, `join_ms_max` (the slowest successful join).

use super::{show_time, CheckResult, Prepared};
use crate::history::Event;

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("joins", "joins of new members");
    let mut failed = 0u64;
    let mut slowest = 0u64;
    for e in p.events {
        let Event::Join { time_ns, node, raft_id, started_ns, joined, bound_ms, detail } = e else { continue };
        result.checked += 1;
        let took_ms = time_ns.saturating_sub(*started_ns) / 1_000_000;
        let what = format!("node {node} as new id {raft_id}, started at {}", show_time(*started_ns));
        if !joined {
            failed += 1;
            result.anomaly(format!(
                "{what}: did not join (gave up at {}, after {took_ms} ms of a {bound_ms} ms bound): {detail}",
                show_time(*time_ns)
            ));
        } else if took_ms > *bound_ms {
            failed += 1;
            result.anomaly(format!("{what}: joined after {took_ms} ms, over the bound of {bound_ms} ms: {detail}"));
        } else {
            slowest = slowest.max(took_ms);
        }
    }
    result.measurements.insert("joins".into(), result.checked);
    result.measurements.insert("joins_failed".into(), failed);
    if result.checked > failed {
        result.measurements.insert("join_ms_max".into(), slowest);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, assert_passed, passes_good_history, run, Builder};
    use super::*;

    #[test]
    fn good_history_joins() {
        let result = passes_good_history(check, 1);
        assert_eq!(result.measurements.get("joins_failed"), Some(&0));
    }

    #[test]
    fn no_joins_nothing_to_check() {
        let result = run(&Builder::new().build(), check);
        assert_passed(&result);
        assert_eq!(result.checked, 0);
    }

    #[test]
    fn a_member_that_fenced_itself_fails() {
        let h = Builder::new()
            .join(4, 6, 1_000_000_000, 20_000_000_000, true)
            .join(2, 7, 30_000_000_000, 90_000_000_000, false)
            .build();
        let result = run(&h, check);
        assert_anomaly(
            &result,
            &[
                "node 2 as new id 7, started at 30.000000000s",
                "did not join (gave up at 90.000000000s, after 60000 ms of a 60000 ms bound)",
                "removed",
            ],
        );
        assert_eq!(result.anomaly_count, 1);
        assert_eq!(result.measurements.get("joins_failed"), Some(&1));
        assert_eq!(result.measurements.get("join_ms_max"), Some(&19_000));
    }

    #[test]
    fn a_join_over_the_bound_fails() {
        let h = Builder::new().join(4, 6, 0, 61_000_000_000, true).build();
        assert_anomaly(&run(&h, check), &["joined after 61000 ms, over the bound of 60000 ms"]);
    }
}
