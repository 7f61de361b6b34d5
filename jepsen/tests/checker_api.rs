//! The checker API as the runner uses it, from outside the crate: a history written as
//! JSON lines, re-checked from the file, summarized and serialized.

use quorumdns_jepsen::checker::{check_all, check_file, Summary};
use quorumdns_jepsen::history::{Event, History, Op, OpResult};

fn lost_write_history() -> History {
    let write = |process, time_ns, value: &str| Event::Invoke {
        process,
        time_ns,
        node: 1,
        op: Op::Write { host: "h1".into(), value: value.into() },
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
    ])
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
