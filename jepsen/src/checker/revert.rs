//! `revert`: a host's value never comes back on a node once another value replaced it.
//!
//! Every write writes a value never written before, so in a correct log each value of a
//! host is set by exactly one entry and, once a later entry replaced it, never reappears.
//! A node applies the log in order, so the values it serves for a host form the same
//! sequence: a node may skip values (it applied several entries between two reads), it
//! never shows a replaced value again. Two views are checked.
//!
//! **What each node served.** Per node and host, the DNS view: successful DNS reads (the A
//! answer, whether or not the SOA bracket held) and final reads. Observation `a`
//! *precedes* `b` when `a` completed before `b` was invoked (touching or overlapping
//! observations are concurrent and not ordered). A revert is three observations
//! `o1` precedes `o2` precedes `o3` with `value(o1) = value(o3) ≠ value(o2)`. "No address"
//! counts as a value (the initial one: after any address was served, no address again is
//! a revert too). Leader reads are left out: they read the node's state machine after a
//! read barrier, a different view from the published zone the DNS path answers from, and
//! they are checked against every other operation by `linearizable`. A node replaced by
//! the membership nemeses (a `membership-wipe` start naming it) is a new replica: its
//! observations after the wipe form a new epoch, compared only with each other.
//!
//! For one value `v`, let `f(v)` be the earliest completion and `s(v)` the latest
//! invocation among its observations. A revert of `v` exists iff some observation of
//! another value lies strictly inside `(f(v), s(v))` (choose `o1` with the earliest
//! completion and `o3` with the latest invocation). Sweep over the zones by decreasing
//! `f`, adding the observations invoked after `f` and keeping the earliest completion
//! among them and the earliest among the other values: the zone's value came back iff
//! the earliest completion of another value is before `s`. O(n log n) per (node, host);
//! a test checks it against every triple on 5,000 random small histories.
//!
//! **The replicated history.** The runner records every host's update history
//! ([`Event::HostHistory`]): in apply order (log order; updates that shared one log entry
//! through group commit in their order inside it), each entry's old and new address. The host's
//! value sequence (the first entry's old address, then each entry's new one) must not
//! return to a value after a different one: every node goes through exactly this
//! sequence, so a value set again by a later entry is a revert on every node, whether or
//! not a reader happened to look in the short window between.

use std::collections::{BTreeMap, HashMap};

use super::duplicate_request::show_entry;
use super::{CheckResult, Prepared, SerialObs};
use crate::history::{request_of_agent, wiped_node, Event, HistoryEntry, NodeId, WIPE};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("revert", "node observations (DNS and final reads) and history entries");
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
    let mut groups: BTreeMap<(NodeId, usize, &str), Vec<&SerialObs>> = BTreeMap::new();
    for obs in &observations {
        groups.entry((obs.node, epoch(obs), obs.host)).or_default().push(obs);
    }
    let mut reverts = 0u64;
    for ((node, _epoch, host), observed) in groups {
        result.checked += observed.len() as u64;
        for (o1, o2, o3) in node_reverts(&observed) {
            reverts += 1;
            result.anomaly(format!(
                "node {node}: {host} went back to {}: {o1}, then {o2}, then {o3}",
                o1.value.unwrap_or("<none>")
            ));
        }
    }
    for e in p.events {
        let Event::HostHistory { node, host, entries, .. } = e else { continue };
        result.checked += entries.len() as u64;
        for (first, between, again) in history_reverts(entries) {
            reverts += 1;
            result.anomaly(format!(
                "{host} (history from node {node}) went back to {}: set by {}, replaced by {}, set again by {}",
                again.new_ipv4.as_deref().unwrap_or("<none>"),
                first.map_or_else(|| "nothing recorded (the value before the history)".to_string(), show),
                show(between),
                show(again)
            ));
        }
    }
    result.measurements.insert("reverts".into(), reverts);
    result
}

/// `index 4460 good <none> -> 10.0.43.170 (serial 4460) [op-6-1]`.
fn show(e: &HistoryEntry) -> String {
    match request_of_agent(&e.user_agent) {
        Some(r) => format!("{} [{r}]", show_entry(e)),
        None => format!("{} [agent {:?}]", show_entry(e), e.user_agent),
    }
}

/// Every value that came back on one node for one host: (first observation of it, an
/// observation of another value after that, the observation that saw it again).
type NodeRevert<'o, 'a> = (&'o SerialObs<'a>, &'o SerialObs<'a>, &'o SerialObs<'a>);

fn node_reverts<'o, 'a>(observed: &[&'o SerialObs<'a>]) -> Vec<NodeRevert<'o, 'a>> {
    // Per value: (earliest completion, its observation, latest invocation, its observation).
    let mut zones: HashMap<Option<&str>, (u64, usize, u64, usize)> = HashMap::new();
    for (i, o) in observed.iter().enumerate() {
        let z = zones.entry(o.value).or_insert((o.complete_ns, i, o.invoke_ns, i));
        if o.complete_ns < z.0 {
            (z.0, z.1) = (o.complete_ns, i);
        }
        if o.invoke_ns > z.2 {
            (z.2, z.3) = (o.invoke_ns, i);
        }
    }
    // Forward zones only (f < s), by decreasing f.
    let mut forward: Vec<(u64, u64, Option<&str>, usize, usize)> =
        zones.iter().filter(|(_, z)| z.0 < z.2).map(|(v, z)| (z.0, z.2, *v, z.1, z.3)).collect();
    forward.sort_by_key(|z| std::cmp::Reverse((z.0, z.1)));
    let mut by_invocation: Vec<usize> = (0..observed.len()).collect();
    by_invocation.sort_by_key(|&i| std::cmp::Reverse((observed[i].invoke_ns, observed[i].complete_ns)));

    // Among the observations invoked after the current zone's f: the one completing first
    // (best[0]) and the one completing first among the other values (best[1]).
    let mut best: [Option<(u64, Option<&str>, usize)>; 2] = [None, None];
    let mut next = 0;
    // (value, (its first observation, the one in between, its last one)).
    type Found<'v> = (Option<&'v str>, (usize, usize, usize));
    let mut found: Vec<Found> = Vec::new();
    for (f, s, v, first, last) in forward {
        while next < by_invocation.len() && observed[by_invocation[next]].invoke_ns > f {
            let i = by_invocation[next];
            let (c, w) = (observed[i].complete_ns, observed[i].value);
            match best[0] {
                None => best[0] = Some((c, w, i)),
                Some(b) if b.1 == w => {
                    if c < b.0 {
                        best[0] = Some((c, w, i));
                    }
                }
                Some(b) if c < b.0 => {
                    best[1] = best[0];
                    best[0] = Some((c, w, i));
                }
                Some(_) => {
                    if best[1].is_none_or(|b| c < b.0) {
                        best[1] = Some((c, w, i));
                    }
                }
            }
            next += 1;
        }
        if let Some(&(c, _, between)) = best.iter().flatten().find(|b| b.1 != v) {
            if c < s {
                found.push((v, (first, between, last)));
            }
        }
    }
    // Report the tightest triple around the observation in between: the last observation
    // of the value that completed before it, the first one invoked after it.
    let mut out: Vec<_> = found
        .into_iter()
        .map(|(v, (first, between, last))| {
            let b = observed[between];
            let of_v = || observed.iter().filter(|o| o.value == v);
            let o1 = of_v().filter(|o| o.complete_ns < b.invoke_ns).max_by_key(|o| o.complete_ns);
            let o3 = of_v().filter(|o| o.invoke_ns > b.complete_ns).min_by_key(|o| o.invoke_ns);
            (*o1.unwrap_or(&observed[first]), b, *o3.unwrap_or(&observed[last]))
        })
        .collect();
    out.sort_by_key(|(_, _, again)| again.invoke_ns);
    out
}

/// Every value that a host's replicated history set again after another value: (the
/// entry that set it first, `None` for the value before the first recorded entry; the
/// entry that replaced it; the entry that set it again).
type HistoryRevert<'a> = (Option<&'a HistoryEntry>, &'a HistoryEntry, &'a HistoryEntry);

fn history_reverts(entries: &[HistoryEntry]) -> Vec<HistoryRevert<'_>> {
    let mut sorted: Vec<&HistoryEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.index);
    let mut out = Vec::new();
    // Replaced value -> (the entry that set it, the entry that replaced it).
    let mut replaced: HashMap<Option<&str>, (Option<&HistoryEntry>, &HistoryEntry)> = HashMap::new();
    // The current value and the entry that set it.
    let mut current: Option<(Option<&str>, Option<&HistoryEntry>)> = None;
    for e in sorted {
        let (old, new) = (e.old_ipv4.as_deref(), e.new_ipv4.as_deref());
        let (value, set_by) = *current.get_or_insert((old, None));
        if new == value {
            continue;
        }
        replaced.insert(value, (set_by, e));
        if let Some(&(first, between)) = replaced.get(&new) {
            out.push((first, between, e));
        }
        current = Some((new, Some(e)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        assert_anomaly, assert_passed, good, passes_good_history, run, Builder, End, Rng,
    };
    use super::*;

    /// The sweep against the definition (every triple) on random small histories of one
    /// node and host: the same set of values come back.
    #[test]
    fn sweep_agrees_with_every_triple() {
        let mut rng = Rng(7);
        let mut with_reverts = 0;
        for _ in 0..5000 {
            let n = 2 + rng.below(9) as usize;
            let values = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
            let mut reads = Vec::new();
            let mut builder = Builder::new();
            for p in 0..n as u64 {
                // Coarse clock: many ties and overlaps.
                let invoke = rng.below(20);
                let complete = invoke + rng.below(6);
                let value = (rng.below(4) as usize).checked_sub(1).map(|i| values[i]);
                reads.push((invoke, complete, value));
                builder = builder.dns_read(p, 1, "h1", invoke, complete, value, 1);
            }
            let mut expected: Vec<Option<&str>> = Vec::new();
            for a in &reads {
                for b in &reads {
                    for c in &reads {
                        let ordered = a.1 < b.0 && b.1 < c.0;
                        if ordered && a.2 == c.2 && a.2 != b.2 && !expected.contains(&a.2) {
                            expected.push(a.2);
                        }
                    }
                }
            }
            let result = run(&builder.build(), check);
            assert_eq!(result.anomaly_count, expected.len() as u64, "{reads:?}: expected {expected:?}\n{result}");
            for v in &expected {
                let needle = format!("went back to {}:", v.unwrap_or("<none>"));
                assert!(result.anomalies.iter().any(|a| a.contains(&needle)), "{reads:?}: {needle}\n{result}");
            }
            with_reverts += usize::from(!expected.is_empty());
        }
        assert!(with_reverts > 500 && with_reverts < 4500, "{with_reverts} of 5000 histories have reverts");
    }

    #[test]
    fn good_history_never_reverts() {
        // 4 DNS reads + 6 final reads + 4 history entries.
        let result = passes_good_history(check, 14);
        assert_eq!(result.measurements.get("reverts"), Some(&0));
    }

    /// Issue 18's example as the readers of node 3 saw it: .170, then the acknowledged
    /// .217, then .170 again, and the final read keeps .170.
    #[test]
    fn a_value_that_comes_back_on_one_node() {
        let h = Builder::new()
            .write(6, 2, "h13", "10.0.43.170", 10, End::Info(80))
            .write(2, 1, "h13", "10.0.43.217", 20, End::Ok(30))
            .dns_read(7, 3, "h13", 15, 18, Some("10.0.43.170"), 4460)
            .dns_read(7, 3, "h13", 31, 33, Some("10.0.43.217"), 4474)
            .dns_read(7, 3, "h13", 40, 42, Some("10.0.43.170"), 4478)
            .final_read(3, "h13", Some("10.0.43.170"), 4478, 100)
            .build();
        let result = run(&h, check);
        assert_anomaly(
            &result,
            &[
                "node 3: h13 went back to 10.0.43.170",
                "dns read h13 [0.000000015s .. 0.000000018s] ok -> 10.0.43.170",
                "dns read h13 [0.000000031s .. 0.000000033s] ok -> 10.0.43.217",
                "dns read h13 [0.000000040s .. 0.000000042s] ok -> 10.0.43.170",
            ],
        );
        assert_eq!(result.anomaly_count, 1, "one report per value that came back:\n{result}");
    }

    #[test]
    fn no_address_after_an_address_and_final_reads_count() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .dns_read(7, 2, "h1", 5, 6, None, 1)
            .dns_read(7, 2, "h1", 21, 22, Some("10.0.0.1"), 2)
            .final_read(2, "h1", None, 1, 100)
            .build();
        assert_anomaly(&run(&h, check), &["node 2: h1 went back to <none>", "final read on node 2 of h1 = <none>"]);
    }

    #[test]
    fn concurrent_reads_other_nodes_and_skipped_values_are_fine() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(1, 1, "h1", "10.0.0.2", 21, End::Ok(30))
            .write(1, 1, "h1", "10.0.0.3", 31, End::Ok(40))
            // Node 2: .1 and .2 overlap, then .1 again overlapping .2: no order between them.
            .dns_read(7, 2, "h1", 22, 28, Some("10.0.0.1"), 2)
            .dns_read(8, 2, "h1", 23, 26, Some("10.0.0.2"), 3)
            .dns_read(9, 2, "h1", 25, 29, Some("10.0.0.1"), 2)
            // Node 3 lags: .2 after node 2 served .3 (another node), then skips to .3.
            .dns_read(7, 2, "h1", 41, 42, Some("10.0.0.3"), 4)
            .dns_read(7, 3, "h1", 43, 44, Some("10.0.0.1"), 2)
            .dns_read(7, 3, "h1", 45, 46, Some("10.0.0.3"), 4)
            .dns_read(7, 3, "h1", 47, 48, Some("10.0.0.3"), 4)
            // Leader reads are not node observations.
            .leader_read(8, 3, "h1", 49, 50, Some("10.0.0.1"))
            .build();
        assert_passed(&run(&h, check));
    }

    #[test]
    fn a_wiped_node_starts_over() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .dns_read(7, 2, "h1", 21, 22, Some("10.0.0.1"), 2)
            .nemesis(WIPE, true, 25, "node 2: id 2 wiped, restarted empty as id 7")
            .dns_read(7, 2, "h1", 26, 27, None, 0)
            .dns_read(7, 2, "h1", 28, 29, Some("10.0.0.1"), 2)
            .build();
        assert_passed(&run(&h, check));
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .dns_read(7, 2, "h1", 1, 2, None, 1)
            .dns_read(7, 2, "h1", 21, 22, Some("10.0.0.1"), 2)
            .dns_read(7, 2, "h1", 26, 27, None, 0)
            .build();
        assert_anomaly(&run(&h, check), &["node 2: h1 went back to <none>"]);
    }

    #[test]
    fn a_value_set_again_in_the_replicated_history() {
        let h = Builder::new()
            .write(6, 2, "h13", "10.0.43.170", 10, End::Info(80))
            .write(2, 1, "h13", "10.0.43.217", 20, End::Ok(30))
            .write(3, 1, "h13", "10.0.43.218", 81, End::Ok(90))
            .host_history(
                1,
                "h13",
                110,
                vec![
                    good(4460, 6, None, "10.0.43.170"),
                    good(4474, 2, Some("10.0.43.170"), "10.0.43.217"),
                    good(4478, 6, Some("10.0.43.217"), "10.0.43.170"),
                    good(4490, 3, Some("10.0.43.170"), "10.0.43.218"),
                ],
            )
            .build();
        let result = run(&h, check);
        assert_anomaly(
            &result,
            &[
                "h13 (history from node 1) went back to 10.0.43.170",
                "set by index 4460 good <none> -> 10.0.43.170 (serial 4460) [op-6-10.0.43.170]",
                "replaced by index 4474 good 10.0.43.170 -> 10.0.43.217",
                "set again by index 4478 good 10.0.43.217 -> 10.0.43.170",
            ],
        );
        assert_eq!(result.anomaly_count, 1, "{result}");
        assert_eq!(result.measurements.get("reverts"), Some(&1));
    }

    #[test]
    fn updates_sharing_a_log_entry_are_in_apply_order() {
        // Group commit: two updates of h10 in the entry at index 34.
        let h = Builder::new()
            .write(6, 2, "h10", "10.0.0.7", 10, End::Ok(80))
            .write(1, 2, "h10", "10.0.0.9", 10, End::Ok(80))
            .host_history(1, "h10", 110, vec![good(34, 6, None, "10.0.0.7"), good(34, 1, Some("10.0.0.7"), "10.0.0.9")])
            .build();
        assert_passed(&run(&h, check));
    }

    #[test]
    fn the_initial_value_coming_back_in_the_history() {
        let h = Builder::new()
            .write(6, 2, "h1", "10.0.0.5", 10, End::Ok(80))
            .host_history(
                1,
                "h1",
                110,
                vec![
                    good(8, 6, Some("10.0.0.4"), "10.0.0.5"),
                    super::super::test_support::entry(9, "op-1-x", "good", Some("10.0.0.5"), Some("10.0.0.4")),
                ],
            )
            .build();
        assert_anomaly(
            &run(&h, check),
            &["went back to 10.0.0.4", "set by nothing recorded", "replaced by index 8", "set again by index 9"],
        );
    }
}
