//! `convergence`: after healing, all nodes converge within a bound, and agree at the end.
//!
//! The runner measures convergence after the final heal and records a `Converged` event;
//! it must be present, with a time (`after_heal_ms: None` means the nodes did not converge
//! within the runner's bound) no greater than `bound_ms`. The measured time is reported in
//! `measurements` (`convergence_ms`, `bound_ms`; the worst one when there are several).
//! The final reads must then agree: for each host, every node that reported final reads
//! has one, and all of them return the same value at the same serial.

use std::collections::{BTreeMap, BTreeSet};

use super::{show_time, CheckResult, FinalObs, Prepared};
use crate::history::{Event, NodeId};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("convergence", "final reads");
    check_measured(p, &mut result);

    let mut by_host: BTreeMap<&str, Vec<FinalObs>> = BTreeMap::new();
    for f in p.finals() {
        by_host.entry(f.host).or_default().push(f);
    }
    if by_host.is_empty() {
        result.anomaly("no final reads".to_string());
    }
    let nodes: BTreeSet<NodeId> = by_host.values().flatten().map(|f| f.node).collect();
    for (host, finals) in &by_host {
        result.checked += finals.len() as u64;
        let reported: BTreeSet<NodeId> = finals.iter().map(|f| f.node).collect();
        for node in nodes.difference(&reported) {
            result.anomaly(format!("node {node} reported no final read of {host}, other nodes did"));
        }
        let first = &finals[0];
        for f in &finals[1..] {
            if f.value != first.value || f.serial != first.serial {
                result.anomaly(format!("{host} did not converge: {first}, but {f}"));
            }
        }
    }
    result
}

/// Checks the runner's `Converged` events and records the worst measured time.
fn check_measured(p: &Prepared, result: &mut CheckResult) {
    let mut any = false;
    for event in p.events {
        let Event::Converged { time_ns, after_heal_ms, bound_ms } = event else { continue };
        any = true;
        let at = show_time(*time_ns);
        match after_heal_ms {
            None => result
                .anomaly(format!("the nodes did not converge within {bound_ms} ms after healing (reported at {at})")),
            Some(ms) if ms > bound_ms => result.anomaly(format!(
                "the nodes converged {ms} ms after healing, over the bound of {bound_ms} ms (reported at {at})"
            )),
            Some(_) => {}
        }
        if let Some(ms) = after_heal_ms {
            let worst = result.measurements.entry("convergence_ms".to_string()).or_insert(*ms);
            *worst = (*worst).max(*ms);
        }
        result.measurements.entry("bound_ms".to_string()).and_modify(|b| *b = (*b).min(*bound_ms)).or_insert(*bound_ms);
    }
    if !any {
        result.anomaly("no Converged event: the runner did not measure convergence".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, passes_good_history, run, Builder};
    use super::*;

    #[test]
    fn good_history_converges() {
        let result = passes_good_history(check, 6);
        assert_eq!(result.measurements.get("convergence_ms"), Some(&1500));
        assert_eq!(result.measurements.get("bound_ms"), Some(&30_000));
    }

    #[test]
    fn no_convergence_within_the_bound() {
        let h = Builder::new().converged(10, None, 30_000).final_read(1, "h1", None, 1, 20).build();
        let result = run(&h, check);
        assert_anomaly(&result, &["did not converge within 30000 ms"]);
        assert_eq!(result.measurements.get("convergence_ms"), None);
        let h = Builder::new().converged(10, Some(31_000), 30_000).final_read(1, "h1", None, 1, 20).build();
        assert_anomaly(&run(&h, check), &["31000 ms", "over the bound"]);
        let h = Builder::new().final_read(1, "h1", None, 1, 20).build();
        assert_anomaly(&run(&h, check), &["no Converged event"]);
    }

    #[test]
    fn final_reads_disagree() {
        let h = Builder::new()
            .converged(10, Some(100), 30_000)
            .final_read(1, "h1", Some("10.0.0.1"), 4, 20)
            .final_read(2, "h1", Some("10.0.0.2"), 4, 21)
            .final_read(3, "h1", Some("10.0.0.1"), 3, 22)
            .final_read(1, "h2", None, 4, 23)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["h1 did not converge", "node 1 of h1 = 10.0.0.1", "node 2 of h1 = 10.0.0.2"]);
        assert_anomaly(&result, &["h1 did not converge", "node 3 of h1 = 10.0.0.1 at serial 3"]);
        assert_anomaly(&result, &["node 2 reported no final read of h2"]);
        assert_anomaly(&result, &["node 3 reported no final read of h2"]);
    }
}
