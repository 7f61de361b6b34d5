//! `serial_monotonic`: a node's SOA serial never goes backwards.
//!
//! Per node, the serials it reported (a DNS read's serial before the read and its
//! bracketed serial, a final read's serial) must not decrease in real-time order: an
//! observation's first serial must not be less than the last serial of any observation on
//! the same node that completed before it was invoked. Concurrent observations may see
//! serials in either order and are not compared. Serials compare with RFC 1982 serial
//! arithmetic (a 32-bit wrap is progress, not a regression).
//!
//! A node replaced by the membership nemesis (a `membership-wipe` start naming it) is a
//! new, empty replica from that moment: observations invoked after the wipe form a new
//! epoch of that node and are compared only with each other.
//!
//! Per node and epoch: sort by completion and by invocation, then sweep in invocation order keeping
//! the greatest serial among the observations completed so far. Cost: O(n log n).

use std::collections::BTreeMap;

use super::{CheckResult, Prepared, SerialObs};
use crate::history::{wiped_node, Event, NodeId, WIPE};

/// RFC 1982: `a < b` in serial number arithmetic (undefined, here false, when they are
/// exactly 2^31 apart).
fn serial_lt(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) > 0
}

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("serial_monotonic", "serial observations (DNS reads and final reads)");
    let observations = p.serial_observations();
    let wipes: Vec<(NodeId, u64)> = p
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Nemesis { time_ns, name, start: true, detail } if name == WIPE => {
                Some((wiped_node(detail)?, *time_ns))
            }
            _ => None,
        })
        .collect();
    let epoch = |obs: &SerialObs| wipes.iter().filter(|(n, t)| *n == obs.node && *t <= obs.invoke_ns).count();
    let mut by_node: BTreeMap<(NodeId, usize), Vec<&SerialObs>> = BTreeMap::new();
    for obs in &observations {
        if obs.before.is_some() || obs.bracketed.is_some() {
            by_node.entry((obs.node, epoch(obs))).or_default().push(obs);
        }
    }
    for ((node, _epoch), observed) in by_node {
        result.checked += observed.len() as u64;
        let mut by_completion = observed.clone();
        by_completion.sort_by_key(|o| o.complete_ns);
        let mut by_invocation = observed;
        by_invocation.sort_by_key(|o| o.invoke_ns);

        let mut completed = by_completion.iter().peekable();
        // The observation with the greatest last serial among those completed so far.
        let mut highest: Option<(u32, &SerialObs)> = None;
        for obs in by_invocation {
            while let Some(done) = completed.next_if(|done| done.complete_ns < obs.invoke_ns) {
                if let Some(last) = done.bracketed.or(done.before) {
                    if highest.is_none_or(|(high, _)| serial_lt(high, last)) {
                        highest = Some((last, done));
                    }
                }
            }
            let (Some(first), Some((high, earlier))) = (obs.before.or(obs.bracketed), highest) else { continue };
            if serial_lt(first, high) {
                result.anomaly(format!("node {node}: serial went back from {high} to {first}: {earlier}, then {obs}"));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, assert_passed, passes_good_history, run, Builder};
    use super::*;

    #[test]
    fn good_history_serials_only_grow() {
        passes_good_history(check, 10);
    }

    #[test]
    fn a_wiped_node_starts_a_new_epoch_but_regressions_within_it_are_caught() {
        let h = Builder::new()
            .dns_read(1, 2, "h1", 10, 20, None, 50)
            .nemesis(WIPE, true, 25, "node 2: id 2 wiped, restarted empty as id 7")
            .dns_read(2, 2, "h1", 30, 40, None, 3)
            .dns_read(3, 2, "h1", 50, 60, None, 9)
            .dns_read(4, 2, "h1", 70, 80, None, 8)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["node 2: serial went back from 9 to 8"]);
        assert_eq!(result.anomaly_count, 1, "50 -> 3 spans the wipe and is not a regression:\n{result}");
        // The same reads without the wipe: 50 -> 3 is one more regression.
        let h = Builder::new()
            .dns_read(1, 2, "h1", 10, 20, None, 50)
            .dns_read(2, 2, "h1", 30, 40, None, 3)
            .dns_read(3, 2, "h1", 50, 60, None, 9)
            .dns_read(4, 2, "h1", 70, 80, None, 8)
            .build();
        assert_eq!(run(&h, check).anomaly_count, 3);
    }

    #[test]
    fn serial_regression_on_one_node() {
        let h = Builder::new()
            .dns_read(1, 2, "h1", 10, 20, None, 5)
            .dns_read(2, 3, "h1", 21, 22, None, 4)
            .dns_read_unbracketed(3, 2, "h1", 30, 40, 4)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["node 2: serial went back from 5 to 4", "process 1", "process 3"]);
        assert_eq!(result.anomaly_count, 1, "node 3 is another node:\n{result}");
    }

    #[test]
    fn final_read_below_an_earlier_serial() {
        let h = Builder::new().dns_read(1, 2, "h1", 10, 20, None, 5).final_read(2, "h1", None, 3, 100).build();
        assert_anomaly(&run(&h, check), &["from 5 to 3", "final read on node 2"]);
    }

    #[test]
    fn concurrent_reads_may_see_serials_in_either_order() {
        let h = Builder::new()
            .dns_read(1, 2, "h1", 10, 30, None, 5)
            .dns_read(2, 2, "h1", 20, 25, None, 4)
            .dns_read(3, 2, "h1", 30, 35, None, 5)
            .build();
        assert_passed(&run(&h, check));
    }

    #[test]
    fn serials_wrap_around() {
        let h = Builder::new()
            .dns_read(1, 2, "h1", 10, 20, None, u32::MAX - 1)
            .dns_read(2, 2, "h1", 21, 22, None, 3)
            .dns_read(3, 2, "h1", 23, 24, None, u32::MAX)
            .build();
        assert_anomaly(&run(&h, check), &[&format!("from 3 to {}", u32::MAX)]);
        assert!(serial_lt(u32::MAX, 0) && serial_lt(7, 8) && !serial_lt(8, 7) && !serial_lt(0, 1 << 31));
    }
}
