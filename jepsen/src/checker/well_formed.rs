//! `well_formed`: the history obeys the rules the other checkers rely on (see
//! [`crate::history`]): events in time order, every completion paired with its process's
//! invocation, no process reused after an unknown outcome, results of the kind the
//! operation returns, every written value written once, and a DNS read's bracketed serial
//! equal to the serial seen before it.

use std::collections::HashMap;

use super::{describe, show_time, CheckResult, Prepared};
use crate::history::{Op, OpResult, Outcome};

const NAME: &str = "well_formed";

/// The verdict on a history whose operations cannot be paired.
pub(super) fn unpairable(error: &str) -> CheckResult {
    let mut result = CheckResult::new(NAME, "events");
    result.anomaly(format!("operations cannot be paired: {error}"));
    result
}

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new(NAME, "events");
    result.checked = p.events.len() as u64;

    for pair in p.events.windows(2) {
        if pair[1].time_ns() < pair[0].time_ns() {
            result.anomaly(format!(
                "time goes backwards: {:?} at {} follows {:?} at {}",
                pair[1],
                show_time(pair[1].time_ns()),
                pair[0],
                show_time(pair[0].time_ns())
            ));
        }
    }

    let mut first_write_of: HashMap<&str, usize> = HashMap::new();
    // Process -> its operation that ended unknown (`ops` is in invocation order).
    let mut unknown_of: HashMap<u64, usize> = HashMap::new();
    for (i, op) in p.ops.iter().enumerate() {
        if let Some(&unknown) = unknown_of.get(&op.process) {
            result.anomaly(format!(
                "process reused after an unknown outcome: {}, then {}",
                describe(&p.ops[unknown]),
                describe(op)
            ));
        }
        if matches!(op.outcome, Outcome::Info(_)) {
            unknown_of.insert(op.process, i);
        }
        if let Outcome::Ok(result_kind) = &op.outcome {
            let fits = matches!(
                (&op.op, result_kind),
                (Op::Write { .. }, OpResult::Written)
                    | (Op::LeaderRead { .. } | Op::DnsRead { .. }, OpResult::Read { .. })
            );
            if !fits {
                result.anomaly(format!("result does not fit the operation: {}", describe(op)));
            }
        }
        if let Outcome::Ok(OpResult::Read { serial: Some(serial), serial_before: Some(before), .. }) = &op.outcome {
            if serial != before {
                result.anomaly(format!(
                    "bracketed serial {serial} differs from the serial before {before}: {}",
                    describe(op)
                ));
            }
        }
        if let Op::Write { value, .. } = &op.op {
            if let Some(&first) = first_write_of.get(value.as_str()) {
                result.anomaly(format!(
                    "value {value} written twice: {} and {}",
                    describe(&p.ops[first]),
                    describe(op)
                ));
            } else {
                first_write_of.insert(value, i);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, passes_good_history, run, Builder, End};
    use super::*;
    use crate::history::{Event, History};

    #[test]
    fn good_history_is_well_formed() {
        passes_good_history(check, 32);
    }

    #[test]
    fn value_written_twice() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 1, End::Ok(2))
            .write(2, 1, "h2", "10.0.0.1", 3, End::Ok(4))
            .build();
        assert_anomaly(&run(&h, check), &["10.0.0.1 written twice", "process 1", "process 2"]);
    }

    #[test]
    fn process_reused_after_unknown_outcome() {
        let h =
            Builder::new().write(1, 1, "h1", "10.0.0.1", 1, End::Info(2)).leader_read(1, 1, "h1", 3, 4, None).build();
        assert_anomaly(
            &run(&h, check),
            &["process reused after an unknown outcome", "process 1 on node 1: leader read"],
        );
    }

    #[test]
    fn events_out_of_order_and_mismatched_result() {
        let mut events = Builder::new().write(1, 1, "h1", "10.0.0.1", 5, End::Ok(6)).build().events;
        events.push(Event::Invoke { process: 2, time_ns: 3, node: 1, op: Op::DnsRead { host: "h1".into() } });
        events.push(Event::Ok { process: 2, time_ns: 7, node: 1, result: OpResult::Written });
        let h = History::new(events);
        let result = run(&h, check);
        assert_anomaly(&result, &["time goes backwards"]);
        assert_anomaly(&result, &["does not fit", "dns read h1"]);
    }

    #[test]
    fn unpairable_history_is_reported_not_panicked() {
        let h = History::new(vec![Event::Ok { process: 9, time_ns: 1, node: 1, result: OpResult::Written }]);
        let results = super::super::check_all(&h);
        assert_eq!(results.len(), 1);
        assert_anomaly(&results[0], &["cannot be paired", "process 9"]);
    }
}
