//! Three real processes on loopback: updates through any node, leader kills, membership
//! changes, a learner catching up from a snapshot, and membership errors.

use reqwest::Method;
use serde_json::json;

use std::time::Duration;

use crate::support::{eventually, eventually_every, set_a, Cluster, Spec, TOKEN, WAIT, ZONE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_sent_to_a_follower_is_answered_by_every_node_with_the_same_serial() {
    let c = Cluster::start(3, 10_000).await;
    let leader = c.leader().await;
    let follower = c.follower_of(leader);
    let body = set_a(c.node(follower), "via-follower", "192.0.2.10").await;
    let serial = body["serial"].as_u64().expect("serial in the answer") as u32;
    // The follower answered only after applying it: it serves the change already.
    assert_eq!(c.node(follower).dig(&[&format!("via-follower.{ZONE}"), "A"]).answer_data("A"), vec!["192.0.2.10"]);
    assert_eq!(c.node(follower).serial(), serial);
    c.all_answer("via-follower", "192.0.2.10").await;
    assert_eq!(c.converged_serial().await, serial);

    // Reads: linearizable by default through a follower, and `?stale=true` too.
    let path = format!("/api/v1/zones/{ZONE}/records?name=via-follower&type=A");
    let (s, b) = c.node(follower).api(Method::GET, &path, None).await;
    assert_eq!((s, b["serial"].as_u64()), (200, Some(serial as u64)), "{b}");
    let (s, b) = c.node(follower).api(Method::GET, &format!("{path}&stale=true"), None).await;
    assert_eq!(s, 200, "{b}");

    // The status table lists every member, reachable, with exactly one leader (polled:
    // an election may be under way on a loaded machine).
    let what = "every member reachable, voting, one leader";
    eventually_every(what, WAIT, Duration::from_millis(100), async || {
        let (s, st) = c.node(follower).api(Method::GET, "/api/v1/cluster", None).await;
        assert_eq!(s, 200);
        let members = st["members"].as_array().cloned().unwrap_or_default();
        assert_eq!(members.len(), 3, "{st}");
        let all_voters = members.iter().all(|m| m["reachable"] == true && m["voter"] == true);
        (all_voters && members.iter().filter(|m| m["role"] == "leader").count() == 1).then_some(()).ok_or(st)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_elects_another_and_updates_continue() {
    let mut c = Cluster::start(3, 10_000).await;
    let old = c.leader().await;
    set_a(c.node(c.follower_of(old)), "before", "192.0.2.1").await;
    c.kill9(old);
    let new = c.leader().await;
    assert_ne!(new, old);
    let survivor = c.follower_of(new);
    set_a(c.node(survivor), "after", "192.0.2.2").await;
    c.all_answer("before", "192.0.2.1").await;
    c.all_answer("after", "192.0.2.2").await;

    // The old leader comes back as a follower and catches up.
    c.restart(old);
    c.all_answer("after", "192.0.2.2").await;
    c.converged_serial().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_any_node_right_after_an_acknowledged_update_loses_nothing() {
    let mut c = Cluster::start(3, 10_000).await;
    for victim in 0..3 {
        let entry = c.live().into_iter().find(|i| *i != victim).unwrap_or(victim);
        let name = format!("acked{victim}");
        let addr = format!("192.0.2.{}", 20 + victim);
        // Through the victim itself when it can, so the ack comes from the node we kill.
        set_a(c.node(victim), &name, &addr).await;
        c.kill9(victim);
        set_a(c.node(entry), &format!("{name}-next"), &addr).await;
        c.restart(victim);
        c.all_answer(&name, &addr).await;
    }
    c.converged_serial().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_leader_keeps_the_cluster_writable_and_the_removed_node_cannot_come_back() {
    let mut c = Cluster::start(3, 10_000).await;
    let leader = c.leader().await;
    let leader_id = c.specs[leader].id();
    let other = c.follower_of(leader);
    let (s, b) = c.node(other).api(Method::DELETE, &format!("/api/v1/cluster/nodes/{leader_id}"), None).await;
    assert_eq!(s, 200, "remove the leader: {b}");
    assert_eq!(b["voters"].as_array().map(|v| v.len()), Some(2), "{b}");

    let new = c.leader().await;
    assert_ne!(new, leader);
    set_a(c.node(other), "after-removal", "192.0.2.30").await;

    // The removed node knows it: not ready, says so, refuses writes.
    let removed = c.node(leader);
    eventually_every("the removed node to say so in /readyz", WAIT, Duration::from_millis(100), async || {
        let (s, r) = removed.api(Method::GET, "/readyz", None).await;
        (s == 503 && r.to_string().contains("was removed from the cluster")).then_some(()).ok_or(r)
    })
    .await;
    // Restart it with its old data: it must not disturb the others.
    c.kill9(leader);
    let term_before = term_of(&c, new).await;
    c.restart(leader);
    let removed = c.node(leader);
    eventually("the removed node notices", WAIT, async || removed.logged("removed from the cluster").then_some(()))
        .await;
    let (s, r) = removed.api(Method::GET, "/readyz", None).await;
    assert_eq!(s, 503, "{r}");
    let (s, b) = removed
        .api(Method::PUT, &format!("/api/v1/zones/{ZONE}/records/x/A"), Some(json!({"data": ["192.0.2.1"]})))
        .await;
    assert_eq!(s, 503, "a removed node refuses writes: {b}");
    for k in 0..5 {
        set_a(c.node(other), &format!("still{k}"), "192.0.2.31").await;
    }
    assert_eq!(term_of(&c, new).await, term_before, "the removed node made the term jump");
    assert_eq!(c.leader().await, new, "leadership moved");

    // Its id is retired: adding it again is refused, as are unknown and duplicate ids.
    let spec = &c.specs[leader];
    let (s, b) = c.node(other).api(Method::POST, "/api/v1/cluster/nodes", Some(spec.member_json())).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("retired_id")), "{b}");
    let (s, b) = c.node(other).api(Method::DELETE, "/api/v1/cluster/nodes/42", None).await;
    assert_eq!((s, b["error"].as_str()), (404, Some("unknown_node")), "{b}");
    let (s, b) = c.node(other).api(Method::POST, "/api/v1/cluster/nodes/42/promote", None).await;
    assert_eq!((s, b["error"].as_str()), (404, Some("unknown_node")), "{b}");
    let mut dup = Spec::new(99, c.root.path(), false, 10);
    dup.config.node.id = c.specs[other].id();
    let (s, b) = c.node(other).api(Method::POST, "/api/v1/cluster/nodes", Some(dup.member_json())).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("duplicate_id")), "{b}");
    let (s, b) =
        c.node(other).api(Method::POST, &format!("/api/v1/cluster/nodes/{}/promote", c.specs[other].id()), None).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("already_voter")), "{b}");
    let (s, b) = c.node(other).api(Method::POST, "/api/v1/cluster/nodes", Some(json!({"id": 7}))).await;
    assert_eq!(s, 422, "missing addresses: {b}");
    let (s, _) = c.node(other).api(Method::POST, "/api/v1/cluster/init", None).await;
    assert_eq!(s, 409, "init of an initialized cluster");
}

async fn term_of(c: &Cluster, i: usize) -> u64 {
    let (_, v) = c.node(i).api(Method::GET, "/api/v1/cluster", None).await;
    v["this_node"]["term"].as_u64().expect("term")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_added_to_a_cluster_with_10k_records_catches_up_from_a_snapshot() {
    let mut c = Cluster::start(3, 30).await;
    let leader = c.leader().await;
    let mut zone = format!("$ORIGIN {ZONE}.\n@ 3600 IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1000 3600 600 86400 60\n@ 3600 IN NS ns1.{ZONE}.\nns1 IN A 127.0.0.1\n");
    for i in 0..10_000 {
        zone.push_str(&format!("h{i} 60 IN A 10.{}.{}.{}\n", i / 65536, (i / 256) % 256, i % 256));
    }
    let url = c.node(leader).url(&format!("/api/v1/zones/{ZONE}/import"));
    let resp = reqwest::Client::new().put(url).bearer_auth(TOKEN).body(zone).send().await.expect("import");
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    // Enough entries after the import that a snapshot is built and the log is purged.
    for k in 0..60 {
        set_a(c.node(leader), &format!("after{k}"), "192.0.2.40").await;
    }
    let spec = Spec::new(4, c.root.path(), false, 30);
    c.specs.push(spec.clone());
    c.nodes.push(Some(spec.start()));
    c.join(3).await;
    let learner = c.node(3);
    eventually("the learner installed a snapshot", WAIT, async || learner.logged("installed snapshot").then_some(()))
        .await;
    c.all_answer("h9999", "10.0.39.15").await;
    c.all_answer("after59", "192.0.2.40").await;
    c.converged_serial().await;
}
