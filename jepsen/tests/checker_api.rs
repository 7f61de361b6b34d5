//! The checker API as the runner uses it, from outside the crate: a history written as
//! JSON lines, re-checked from the file, summarized and serialized.

use quorumdns_jepsen::checker::{check_all, check_file, Summary};
use quorumdns_jepsen::history::{Event, History, HistoryEntry, Op, OpResult};

fn lost_write_history() -> History {
    let write = |process, time_ns, value: &str| Event::Invoke {
        process,
        time_ns,
        node: 1,
        op: Op::Write { host: "h1".into(), value: value.into(), request: Some(format!("op-{process}-{value}")) },
    };
    let ack = |process, time_ns| Event::Ok { process, time_ns, node: 1, result: OpResult::Written };
    let final_read = |node, time_ns, value: &str| Event::Final {
        time_ns,
        node,
        host: "h1".into(),
        value: Some(value.into()),
        serial: 3,
    };
    History::new(vec![
        write(1, 10, "10.0.0.1"),
        ack(1, 20),
        write(1, 30, "10.0.0.2"),
        ack(1, 40),
        Event::Converged { time_ns: 50, after_heal_ms: Some(800), bound_ms: 30_000 },
        final_read(1, 60, "10.0.0.2"),
        final_read(2, 61, "10.0.0.1"),
        Event::HostHistory {
            time_ns: 70,
            node: 1,
            host: "h1".into(),
            truncated: false,
            entries: vec![
                entry(5, "op-1-10.0.0.1", None, "10.0.0.1"),
                entry(6, "op-1-10.0.0.2", Some("10.0.0.1"), "10.0.0.2"),
            ],
        },
    ])
}

fn entry(index: u64, request: &str, old: Option<&str>, new: &str) -> HistoryEntry {
    HistoryEntry {
        index,
        serial: index as u32,
        result: "good".into(),
        user_agent: format!("quorumdns-jepsen/{request}"),
        old_ipv4: old.map(Into::into),
        new_ipv4: Some(new.into()),
    }
}

/// The forwarded write of issue 18 committed twice: the same request at index 7 sets
/// 10.0.0.1 again after 10.0.0.2, and a new member fenced itself.
fn duplicated_history() -> History {
    let mut h = lost_write_history();
    for e in &mut h.events {
        if let Event::HostHistory { entries, .. } = e {
            entries.push(entry(7, "op-1-10.0.0.1", Some("10.0.0.2"), "10.0.0.1"));
        }
    }
    h.events.push(Event::Join {
        time_ns: 80,
        node: 3,
        raft_id: 6,
        started_ns: 65,
        joined: false,
        bound_ms: 60_000,
        detail: "readyz 503 (node 6 was removed from the cluster)".into(),
    });
    h
}

#[test]
fn runner_checks_a_saved_history_and_writes_a_summary() {
    let history = lost_write_history();
    let dir = std::env::temp_dir().join(format!("quorumdns-jepsen-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("history.jsonl");
    history.write_jsonl(std::fs::File::create(&path).expect("create")).expect("write");

    let from_file = check_file(&path).expect("a well-formed history");
    assert_eq!(from_file, check_all(&history));
    let summary = Summary::new(from_file);
    assert!(!summary.passed);
    let failed: Vec<&str> = summary.results.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
    // Node 2 kept the first write; at equal serial the nodes also answer differently, and
    // their final reads disagree.
    assert_eq!(failed, ["lost_write", "serial_divergence", "convergence"]);

    let json = serde_json::to_value(&summary).expect("serializable");
    assert_eq!(json["passed"], false);
    assert_eq!(json["results"][6]["measurements"]["convergence_ms"], 800);
    println!("{summary}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn duplicates_reverts_and_failed_joins_fail_their_checkers() {
    let summary = Summary::new(check_all(&duplicated_history()));
    println!("{summary}");
    let failed: Vec<&str> = summary.results.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
    assert_eq!(failed, ["lost_write", "serial_divergence", "convergence", "duplicate_request", "revert", "joins"]);
    let json = serde_json::to_value(&summary).expect("serializable");
    assert_eq!(json["results"][7]["measurements"]["duplicated_requests"], 1);
    assert_eq!(json["results"][8]["measurements"]["reverts"], 1);
    assert_eq!(json["results"][9]["measurements"]["joins_failed"], 1);
}
