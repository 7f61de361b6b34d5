//! Durability: what was acknowledged survives `kill -9`, and the serial never goes back.

use std::time::Duration;

use crate::support::{add, eventually, Node};

#[tokio::test]
async fn every_acknowledged_change_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    for i in 0..25 {
        add(&node, &format!("h{i}"), "A", &[&format!("192.0.2.{i}")]).await;
    }
    let serial = node.serial();
    // Killed right after the last acknowledgement: nothing gets a chance to flush.
    let data = node.kill9();
    let node = Node::start(&data);
    assert_eq!(node.serial(), serial, "serial after restart");
    for i in 0..25 {
        let d = node.dig(&[&format!("h{i}.dyn.example.test"), "A"]);
        assert_eq!(d.answer_data("A"), vec![format!("192.0.2.{i}")], "h{i} after kill -9");
    }
    // And it keeps taking writes after the restart, with a higher serial.
    let body = add(&node, "after", "A", &["192.0.2.200"]).await;
    assert_eq!(body["serial"], serial + 1);
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_a_restart_serves_the_same_zone() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    add(&node, "kept", "TXT", &["\"still here\""]).await;
    let serial = node.serial();
    let status = node.terminate();
    assert!(status.success(), "exit status {status}");
    let node = Node::start(dir.path());
    let d = eventually("TXT after restart", Duration::from_secs(10), async || {
        let d = node.dig(&["kept.dyn.example.test", "TXT"]);
        (!d.answer.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(d.answer_data("TXT"), vec!["\"still here\""]);
    assert_eq!(node.serial(), serial);
}
