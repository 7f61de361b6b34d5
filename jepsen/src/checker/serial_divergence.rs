//! `serial_divergence`: two nodes reporting the same SOA serial return identical answers.
//!
//! Every DNS read whose SOA bracket held (`serial: Some(s)`: the answer belongs to the zone
//! at serial `s`) and every final read is an observation of (host, serial) -> value. All
//! observations of the same host at the same serial, on any nodes (or the same node), must
//! return the same value: a serial names one state of the zone. Each differing observation
//! is reported against the first one seen. Cost: O(observations) hash look-ups.

use std::collections::HashMap;

use super::{show_value, CheckResult, Prepared, SerialObs};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("serial_divergence", "answers with a serial (DNS reads and final reads)");
    let observations = p.serial_observations();
    let mut first_at: HashMap<(&str, u32), &SerialObs> = HashMap::new();
    for obs in &observations {
        let Some(serial) = obs.bracketed else { continue };
        result.checked += 1;
        let first = *first_at.entry((obs.host, serial)).or_insert(obs);
        if first.value != obs.value {
            result.anomaly(format!(
                "{} at serial {serial}: node {} answered {} ({first}) but node {} answered {} ({obs})",
                obs.host,
                first.node,
                show_value(first.value),
                obs.node,
                show_value(obs.value)
            ));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, assert_passed, passes_good_history, run, Builder, End};
    use super::*;

    #[test]
    fn good_history_has_one_answer_per_serial() {
        passes_good_history(check, 10);
    }

    #[test]
    fn two_nodes_differ_at_the_same_serial() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(1, 1, "h1", "10.0.0.2", 30, End::Ok(40))
            .dns_read(2, 2, "h1", 41, 42, Some("10.0.0.2"), 7)
            .dns_read(3, 3, "h1", 43, 44, Some("10.0.0.1"), 7)
            .build();
        assert_anomaly(
            &run(&h, check),
            &["h1 at serial 7", "node 2 answered 10.0.0.2", "node 3 answered 10.0.0.1", "process 3"],
        );
    }

    #[test]
    fn final_read_differs_from_an_earlier_read_on_the_same_node() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .dns_read(2, 2, "h1", 21, 22, None, 3)
            .final_read(2, "h1", Some("10.0.0.1"), 3, 100)
            .build();
        assert_anomaly(
            &run(&h, check),
            &["node 2 answered <none>", "node 2 answered 10.0.0.1", "final read on node 2"],
        );
    }

    #[test]
    fn unbracketed_reads_and_other_hosts_do_not_count() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(1, 1, "h2", "10.0.0.2", 30, End::Ok(40))
            .dns_read(2, 2, "h1", 41, 42, Some("10.0.0.1"), 5)
            .dns_read(2, 2, "h2", 43, 44, Some("10.0.0.2"), 5)
            .dns_read_unbracketed(3, 3, "h1", 45, 46, 5)
            .build();
        let result = run(&h, check);
        assert_passed(&result);
        assert_eq!(result.checked, 2);
    }
}
