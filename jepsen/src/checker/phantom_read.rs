//! `phantom_read`: no read on any node ever returns a value that was never written.
//!
//! Every successful read (leader and DNS) and every final read returns either no address
//! (the initial state) or the value of a write of the same host that was invoked before
//! the read completed. Reported distinctly: a value never written at all, a value written
//! to another host, a value read before its write was invoked, and the value of a write
//! reported failed (the "failed" write took effect: the runner's or the server's error
//! reporting is wrong). Cost: O(reads + finals) hash look-ups.

use super::{describe, write_status, CheckResult, Prepared, WriteStatus};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("phantom_read", "reads and final reads");
    for read in p.ok_reads() {
        result.checked += 1;
        if let Some(problem) = value_problem(p, read.op.op.host(), read.value, read.complete_ns) {
            result.anomaly(format!("{}: {problem}", describe(read.op)));
        }
    }
    for f in p.finals() {
        result.checked += 1;
        if let Some(problem) = value_problem(p, f.host, f.value, f.time_ns) {
            result.anomaly(format!("{f}: {problem}"));
        }
    }
    result
}

/// Why `value`, read from `host` by an observation that completed at `complete_ns`, was
/// never (yet) written there, if it was not.
fn value_problem(p: &Prepared, host: &str, value: Option<&str>, complete_ns: u64) -> Option<String> {
    let value = value?;
    let Some(write) = p.write_of(value) else {
        return Some("value never written".to_string());
    };
    if write.op.host() != host {
        return Some(format!("value written to another host: {}", describe(write)));
    }
    if write_status(write) == WriteStatus::Failed {
        return Some(format!("value of a write reported failed, which took effect: {}", describe(write)));
    }
    if complete_ns < write.invoke_ns {
        return Some(format!("value read before its write was invoked: {}", describe(write)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_anomaly, passes_good_history, run, Builder, End};
    use super::*;

    #[test]
    fn good_history_reads_only_written_values() {
        passes_good_history(check, 13);
    }

    #[test]
    fn never_written_value() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .dns_read(2, 3, "h1", 21, 22, Some("10.9.9.9"), 2)
            .final_read(1, "h1", Some("10.8.8.8"), 2, 100)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["process 2 on node 3", "10.9.9.9", "never written"]);
        assert_anomaly(&result, &["final read on node 1", "10.8.8.8", "never written"]);
    }

    #[test]
    fn failed_write_that_was_read() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Fail(20))
            .leader_read(2, 1, "h1", 21, 22, Some("10.0.0.1"))
            .build();
        assert_anomaly(&run(&h, check), &["process 2", "reported failed, which took effect", "process 1"]);
    }

    #[test]
    fn value_of_another_host_and_read_from_the_future() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .leader_read(2, 1, "h2", 21, 22, Some("10.0.0.1"))
            .dns_read(3, 2, "h1", 5, 8, Some("10.0.0.1"), 1)
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["leader read h2", "written to another host"]);
        assert_anomaly(&result, &["process 3", "before its write was invoked"]);
    }
}
