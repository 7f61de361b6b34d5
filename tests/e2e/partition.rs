//! Partitions, in process: three `node::start` nodes in this test process, each with a
//! `PartitionSwitch` that makes its Raft RPCs (in and out) fail. The isolated node keeps
//! answering DNS from its applied state, reports itself stale and refuses writes with 503;
//! the majority keeps taking writes; after healing every node converges.

use std::time::Duration;

use quorumdns::config::Config;
use quorumdns::node::{self, RunningNode, StartOptions};
use quorumdns::raft::{NodeInfo, PartitionSwitch};
use quorumdns::secret::Secret;
use reqwest::Method;
use serde_json::json;

use crate::support::config::{ClusterSection, NodeSection};
use crate::support::{dig, eventually, eventually_every, NodeConfig, Zone, TOKEN, WAIT, ZONE};

struct InProc {
    node: RunningNode,
    switch: PartitionSwitch,
    _dir: tempfile::TempDir,
}

async fn start(id: u64, bootstrap: bool) -> InProc {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = NodeConfig {
        node: NodeSection { id, data_dir: dir.path().to_path_buf(), ..NodeSection::default() },
        cluster: ClusterSection {
            bootstrap: Some(bootstrap),
            heartbeat_ms: Some(100),
            election_timeout_min_ms: Some(800),
            election_timeout_max_ms: Some(1600),
            rpc_timeout_ms: Some(500),
            write_timeout_ms: Some(3000),
            stale_after_ms: Some(1500),
            ..ClusterSection::default()
        },
        zones: vec![Zone { records: Vec::new(), ..Zone::test() }],
        ..NodeConfig::default()
    }
    .render();
    let config = Config::from_toml(&text, std::path::Path::new("inproc.toml")).expect("config");
    let switch = PartitionSwitch::default();
    let opts = StartOptions {
        config,
        admin_token: Secret::new(TOKEN.as_bytes().to_vec(), "test").expect("token"),
        cluster_secret: Secret::new(b"partition test secret".to_vec(), "test").expect("secret"),
        partition: switch.clone(),
    };
    InProc { node: node::start(opts).await.expect("node starts"), switch, _dir: dir }
}

async fn put(n: &InProc, name: &str, addr: &str) -> (u16, serde_json::Value) {
    let url = format!("http://{}/api/v1/zones/{ZONE}/records/{name}/A", n.node.http_addr);
    let resp = reqwest::Client::new()
        .request(Method::PUT, url)
        .bearer_auth(TOKEN)
        .json(&json!({"ttl": 60, "data": [addr]}))
        .send()
        .await
        .expect("http");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn answers(n: &InProc, name: &str) -> Vec<String> {
    dig(n.node.dns_addr, &[&format!("{name}.{ZONE}"), "A"]).answer_data("A")
}

async fn put_until_ok(n: &InProc, name: &str, addr: &str) {
    eventually_every("the majority to take the write", WAIT, Duration::from_millis(100), async || {
        let (s, b) = put(n, name, addr).await;
        if s == 200 {
            return Ok(());
        }
        assert_eq!(s, 503, "{b}");
        Err(b)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minority_keeps_answering_stale_and_refuses_writes_and_everything_converges_after_healing() {
    let mut nodes = three_nodes().await;
    put_until_ok(&nodes[1], "before", "192.0.2.1").await;
    for n in &nodes {
        eventually("before everywhere", WAIT, async || (answers(n, "before") == ["192.0.2.1"]).then_some(())).await;
    }

    // Cut the leader off: it is the minority of one.
    let old = nodes.iter().position(|n| n.node.service.status().role == "leader").expect("a leader");
    nodes[old].switch.isolate(true);
    let minority = &nodes[old];
    eventually("the isolated node reports itself stale", WAIT, async || {
        minority.node.service.status().stale.then_some(())
    })
    .await;
    let ready = minority.node.service.readiness();
    assert!(!ready.ready && ready.checks.iter().any(|c| c.name == "fresh" && !c.ok), "{ready:?}");
    let (s, b) = put(minority, "refused", "192.0.2.9").await;
    assert_eq!(s, 503, "the minority refuses writes: {b}");
    assert_eq!(answers(minority, "before"), ["192.0.2.1"], "the minority keeps answering DNS");

    // The majority elects a leader and keeps taking writes.
    let majority: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    for (k, i) in majority.iter().enumerate() {
        put_until_ok(&nodes[*i], &format!("during{k}"), "192.0.2.2").await;
    }
    assert!(answers(minority, "during0").is_empty(), "the minority cannot have seen majority writes");

    // Heal: every node converges to the same zone and serial.
    nodes[old].switch.isolate(false);
    for n in &nodes {
        for k in 0..majority.len() {
            eventually("majority writes everywhere", WAIT, async || {
                (answers(n, &format!("during{k}")) == ["192.0.2.2"]).then_some(())
            })
            .await;
        }
    }
    let want = eventually("identical state on every node", WAIT, async || {
        let states: Vec<_> = nodes.iter().map(|n| n.node.service.read(|s| s.clone())).collect();
        states.iter().all(|s| *s == states[0]).then(|| states[0].clone())
    })
    .await;
    let serial = want.zones.values().next().expect("zone").serial.0;
    for n in &nodes {
        let soa = dig(n.node.dns_addr, &[ZONE, "SOA"]);
        assert!(soa.answer.iter().any(|r| r.soa_serial() == Some(serial)), "{}", soa.raw);
        eventually("fresh again", WAIT, async || (!n.node.service.status().stale).then_some(())).await;
    }
    // The write the isolated leader appended but could not commit was overwritten.
    assert!(answers(&nodes[old], "refused").is_empty());
    for n in &mut nodes {
        n.node.shutdown().await;
    }
}

/// Starts three in-process nodes with node 1 leading and 2 and 3 voters.
async fn three_nodes() -> Vec<InProc> {
    let nodes = vec![start(1, true).await, start(2, false).await, start(3, false).await];
    for n in &nodes[1..] {
        let s = &n.node.service;
        let info = NodeInfo {
            raft_addr: n.node.raft_addr.to_string(),
            http_addr: n.node.http_addr.to_string(),
            dns_addr: n.node.dns_addr.to_string(),
        };
        nodes[0].node.service.cluster_add(s.node_id(), info, Duration::from_secs(30)).await.expect("add");
        nodes[0].node.service.cluster_promote(s.node_id()).await.expect("promote");
    }
    nodes
}

/// Found by the jepsen membership nemesis: a node that is behind (here a follower back
/// from a partition, there a new member catching up) answered `badauth` to a host the
/// cluster had already registered, which ddclient treats as final and the per-address
/// throttle counted. The node now checks unknown credentials again after a read barrier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_the_cluster_confirms_unknown_credentials_before_answering_badauth() {
    let mut nodes = three_nodes().await;
    let leader = nodes.iter().position(|n| n.node.service.status().role == "leader").expect("a leader");
    let behind = (leader + 1) % 3;
    nodes[behind].switch.isolate(true);

    let client = reqwest::Client::new();
    let fqdn = format!("late.{ZONE}");
    let register = format!("http://{}/nic/register?fqdn={fqdn}", nodes[leader].node.http_addr);
    let body: serde_json::Value =
        client.get(register).bearer_auth(TOKEN).send().await.expect("http").json().await.expect("json");
    let secret = body["host"]["update_secret"].as_str().unwrap_or_else(|| panic!("registered: {body}")).to_string();
    let knows = |n: &InProc| {
        n.node
            .service
            .read(|s| s.registry.hosts.keys().any(|h| h.as_str() == fqdn.as_str() || h.as_str() == format!("{fqdn}.")))
    };
    assert!(!knows(&nodes[behind]), "the isolated node cannot know the host yet");

    // Ask the node while it is still cut off, and heal while it is answering: it must
    // not answer from its stale replica, but wait for the cluster and check again.
    let update = format!("http://{}/nic/update?hostname={fqdn}&myip=192.0.2.77", nodes[behind].node.http_addr);
    let asked = tokio::spawn({
        let (client, fqdn, secret) = (client.clone(), fqdn.clone(), secret.clone());
        async move {
            client.get(update).basic_auth(&fqdn, Some(&secret)).send().await.expect("http").text().await.expect("body")
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    nodes[behind].switch.isolate(false);
    let text = asked.await.expect("request task");
    assert_eq!(
        text.trim(),
        "good 192.0.2.77",
        "a node behind the cluster must not answer badauth to a registered host"
    );

    // A wrong secret is still refused by the same node, now current.
    let update = format!("http://{}/nic/update?hostname={fqdn}&myip=192.0.2.78", nodes[behind].node.http_addr);
    let resp = client.get(update).basic_auth(&fqdn, Some("wrong")).send().await.expect("http");
    assert_eq!(resp.text().await.expect("body").trim(), "badauth");
    let metrics = reqwest::get(format!("http://{}/metrics", nodes[behind].node.http_addr))
        .await
        .expect("http")
        .text()
        .await
        .expect("body");
    // (Metrics are per process: the three in-process nodes share them.)
    assert!(metrics.contains(r#"quorumdns_auth_rechecks_total{result="caught_up"} "#), "{metrics}");
    for n in &mut nodes {
        n.node.shutdown().await;
    }
}
