//! `credentials`: a write with valid credentials is never refused as unauthenticated.
//!
//! Every write of the workload sends its host's own update secret, created before the
//! load started, so a `badauth` answer (HTTP 200 `badauth`, or 401) is always wrong: a
//! node that cannot verify a credential yet (a new member catching up, a node cut off
//! from the leader) must answer `911` (503, try again), because ddclient stops for good
//! on `badauth`. Each such answer is an anomaly. The per-address throttle that follows
//! failed authentications (HTTP 429) is its consequence and only counted. Measurements:
//! `badauth`, `throttled`.

use super::{describe, CheckResult, Prepared};
use crate::history::{Op, Outcome};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("credentials", "writes");
    let (mut badauth, mut throttled) = (0u64, 0u64);
    for op in &p.ops {
        if !matches!(op.op, Op::Write { .. }) {
            continue;
        }
        result.checked += 1;
        let (Outcome::Fail(error) | Outcome::Info(error)) = &op.outcome else { continue };
        if error.starts_with("429") {
            throttled += 1;
        } else if error == "badauth" || error.starts_with("401") {
            badauth += 1;
            result.anomaly(format!("valid credentials refused: {}", describe(op)));
        }
    }
    result.measurements.insert("badauth".into(), badauth);
    result.measurements.insert("throttled".into(), throttled);
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, passes_good_history, run, Builder, End};
    use super::*;
    use crate::history::{Event, History};

    #[test]
    fn good_history_has_no_refused_credentials() {
        passes_good_history(check, 4);
    }

    #[test]
    fn badauth_from_a_node_catching_up_fails() {
        let mut events = Builder::new()
            .write(1, 3, "h1", "10.0.0.1", 10, End::Fail(20))
            .write(2, 3, "h1", "10.0.0.2", 30, End::Fail(40))
            .write(3, 3, "h1", "10.0.0.3", 50, End::Fail(60))
            .write(4, 1, "h1", "10.0.0.4", 70, End::Ok(80))
            .build()
            .events;
        for e in &mut events {
            if let Event::Fail { process, error, .. } = e {
                *error = ["badauth", "401 badauth", "429 badauth"][*process as usize - 1].into();
            }
        }
        let result = run(&History::new(events), check);
        assert_anomaly(&result, &["valid credentials refused", "process 1 on node 3: write h1 := 10.0.0.1"]);
        assert_anomaly(&result, &["process 2 on node 3"]);
        assert_eq!(result.anomaly_count, 2, "429 is the throttle that follows:\n{result}");
        assert_eq!(result.measurements.get("throttled"), Some(&1));
    }
}
