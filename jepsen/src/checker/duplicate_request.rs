//! `duplicate_request`: every write is applied at most once, and an acknowledged write is
//! applied exactly once.
//!
//! Every write carries a request id never used before, which quorumdns records with the
//! request's `User-Agent` in the host's replicated update history (one entry per applied
//! update command, refusals included). After the final reads the runner fetches every
//! host's history from one node ([`Event::HostHistory`]). Per (node, host) history:
//!
//! - a request id in two or more entries is a **duplicate**: one request was applied
//!   twice (e.g. a forwarded command proposed again after a leader change although the
//!   first copy was already in the log);
//! - an entry for a request of another host, or for a request no write of the run sent,
//!   is reported (a corrupted or misattributed history);
//! - a `good` entry for a write reported *failed* is reported (the failure was wrong);
//! - an acknowledged write with no entry is reported when the history was not truncated
//!   (the per-host limit could have evicted it otherwise).
//!
//! A host that was written but whose history was not recorded is reported too (the check
//! could not be done). Measurements: `duplicated_requests` (request ids applied more
//! than once), `history_entries`. Cost: O(entries + writes).

use std::collections::{BTreeMap, HashMap};

use super::{describe, write_status, CheckResult, Prepared, WriteStatus};
use crate::history::{request_of_agent, Completed, Event, HistoryEntry, NodeId, Op};

pub(super) fn check(p: &Prepared) -> CheckResult {
    let mut result = CheckResult::new("duplicate_request", "history entries of workload requests");
    let mut write_of: HashMap<&str, &Completed> = HashMap::new();
    let mut written_hosts: BTreeMap<&str, usize> = BTreeMap::new();
    for op in &p.ops {
        if let Op::Write { host, request, .. } = &op.op {
            *written_hosts.entry(host).or_default() += 1;
            if let Some(r) = request {
                write_of.insert(r, op);
            }
        }
    }
    // Host -> (node, truncated, entries) of each recorded history.
    type Recorded<'e> = (NodeId, bool, &'e [HistoryEntry]);
    let mut recorded: BTreeMap<&str, Vec<Recorded>> = BTreeMap::new();
    for e in p.events {
        if let Event::HostHistory { node, host, truncated, entries, .. } = e {
            recorded.entry(host).or_default().push((*node, *truncated, entries));
        }
    }
    for (host, writes) in &written_hosts {
        if !recorded.contains_key(host) {
            result.anomaly(format!("{host}: {writes} writes, but its replicated history was not recorded"));
        }
    }
    let mut duplicated = 0u64;
    let mut total = 0u64;
    for (host, histories) in &recorded {
        for (node, truncated, entries) in histories {
            total += entries.len() as u64;
            let mut by_request: BTreeMap<&str, Vec<&HistoryEntry>> = BTreeMap::new();
            for entry in entries.iter() {
                let Some(request) = request_of_agent(&entry.user_agent) else { continue };
                result.checked += 1;
                by_request.entry(request).or_default().push(entry);
            }
            for (request, applied) in &by_request {
                let write = write_of.get(request).copied();
                let what = write.map_or_else(|| format!("request {request}"), describe);
                if applied.len() > 1 {
                    duplicated += 1;
                    let copies: Vec<String> = applied.iter().map(|e| show_entry(e)).collect();
                    result.anomaly(format!(
                        "{host} (history from node {node}): applied {} times: {what}: {}",
                        applied.len(),
                        copies.join("; ")
                    ));
                }
                match write {
                    None => result.anomaly(format!(
                        "{host} (history from node {node}): request {request} was never sent by a write: {}",
                        show_entry(applied[0])
                    )),
                    Some(w) if w.op.host() != *host => result.anomaly(format!(
                        "{host} (history from node {node}): entry of a write of another host: {what}: {}",
                        show_entry(applied[0])
                    )),
                    Some(w) if write_status(w) == WriteStatus::Failed => {
                        if let Some(e) = applied.iter().find(|e| e.result == "good") {
                            result.anomaly(format!(
                                "{host} (history from node {node}): a write reported failed was applied: {what}: {}",
                                show_entry(e)
                            ));
                        }
                    }
                    Some(_) => {}
                }
            }
            if !truncated {
                for (request, w) in &write_of {
                    if w.op.host() == *host
                        && write_status(w) == WriteStatus::Acked
                        && !by_request.contains_key(request)
                    {
                        result.anomaly(format!(
                            "{host} (history from node {node}): acknowledged write not in the history: {}",
                            describe(w)
                        ));
                    }
                }
            }
        }
    }
    result.measurements.insert("duplicated_requests".into(), duplicated);
    result.measurements.insert("history_entries".into(), total);
    result
}

/// `index 4460 good 10.0.43.217 -> 10.0.43.170 (serial 4460)`.
pub(super) fn show_entry(e: &HistoryEntry) -> String {
    format!(
        "index {} {} {} -> {} (serial {})",
        e.index,
        e.result,
        e.old_ipv4.as_deref().unwrap_or("<none>"),
        e.new_ipv4.as_deref().unwrap_or("<none>"),
        e.serial
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        assert_anomaly, entry, good, passes_good_history, request_for, run, Builder, End,
    };
    use super::*;

    #[test]
    fn good_history_applies_each_request_once() {
        let result = passes_good_history(check, 4);
        assert_eq!(result.measurements.get("duplicated_requests"), Some(&0));
        assert_eq!(result.measurements.get("history_entries"), Some(&4));
    }

    /// Issue 18's example: op 6 sets h13 to .170 through node 2 (index 4460), op 2 sets
    /// .217 (index 4474, acknowledged), then op 6's command again at index 4478.
    fn forwarded_write_committed_twice() -> Builder {
        Builder::new()
            .write(6, 2, "h13", "10.0.43.170", 10, End::Info(60))
            .write(2, 3, "h13", "10.0.43.217", 20, End::Ok(30))
            .final_read(1, "h13", Some("10.0.43.170"), 4478, 100)
            .converged(90, Some(5), 30_000)
    }

    #[test]
    fn a_request_applied_twice_is_a_duplicate() {
        let h = forwarded_write_committed_twice()
            .host_history(
                1,
                "h13",
                110,
                vec![
                    good(4460, 6, None, "10.0.43.170"),
                    good(4474, 2, Some("10.0.43.170"), "10.0.43.217"),
                    good(4478, 6, Some("10.0.43.217"), "10.0.43.170"),
                ],
            )
            .build();
        let result = run(&h, check);
        assert_anomaly(
            &result,
            &[
                "h13 (history from node 1): applied 2 times",
                "process 6 on node 2: write h13 := 10.0.43.170 (op-6-10.0.43.170)",
                "index 4460 good <none> -> 10.0.43.170",
                "index 4478 good 10.0.43.217 -> 10.0.43.170",
            ],
        );
        assert_eq!(result.anomaly_count, 1, "{result}");
        assert_eq!(result.measurements.get("duplicated_requests"), Some(&1));
    }

    #[test]
    fn a_second_copy_without_effect_is_a_duplicate_too() {
        // Nothing in between: the second copy changes nothing (nochg), but it was applied.
        let h = Builder::new()
            .write(6, 2, "h1", "10.0.0.9", 10, End::Ok(60))
            .host_history(
                1,
                "h1",
                110,
                vec![
                    good(7, 6, None, "10.0.0.9"),
                    entry(9, &request_for(6, "10.0.0.9"), "nochg", Some("10.0.0.9"), Some("10.0.0.9")),
                ],
            )
            .build();
        assert_anomaly(&run(&h, check), &["applied 2 times", "index 9 nochg"]);
    }

    #[test]
    fn missing_misattributed_unknown_and_failed_entries() {
        let h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(2, 1, "h2", "10.0.0.2", 10, End::Ok(20))
            .write(3, 1, "h1", "10.0.0.3", 30, End::Fail(40))
            .write(4, 1, "h3", "10.0.0.4", 30, End::Ok(40))
            .host_history(
                1,
                "h1",
                110,
                vec![
                    good(2, 2, None, "10.0.0.2"),
                    good(3, 3, Some("10.0.0.2"), "10.0.0.3"),
                    entry(4, "op-99-1", "good", Some("10.0.0.3"), Some("10.0.0.99")),
                    entry(5, "", "good", Some("10.0.0.99"), Some("10.1.1.1")),
                ],
            )
            .host_history(1, "h2", 111, vec![good(2, 2, None, "10.0.0.2")])
            .build();
        let result = run(&h, check);
        assert_anomaly(&result, &["h1 (history from node 1): acknowledged write not in the history", "process 1"]);
        assert_anomaly(&result, &["h1", "entry of a write of another host", "write h2 := 10.0.0.2"]);
        assert_anomaly(&result, &["h1", "a write reported failed was applied", "process 3"]);
        assert_anomaly(&result, &["h1", "request op-99-1 was never sent by a write"]);
        assert_anomaly(&result, &["h3: 1 writes, but its replicated history was not recorded"]);
        assert_eq!(result.anomaly_count, 5, "the entry without a request id is not judged:\n{result}");
    }

    #[test]
    fn a_truncated_history_may_miss_old_acknowledged_writes() {
        let mut h = Builder::new()
            .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
            .write(1, 1, "h1", "10.0.0.2", 30, End::Ok(40))
            .host_history(1, "h1", 110, vec![good(3, 1, Some("10.0.0.1"), "10.0.0.2")])
            .build();
        assert_anomaly(&run(&h, check), &["acknowledged write not in the history", "10.0.0.1"]);
        for e in &mut h.events {
            if let Event::HostHistory { truncated, .. } = e {
                *truncated = true;
            }
        }
        super::super::test_support::assert_passed(&run(&h, check));
    }
}
