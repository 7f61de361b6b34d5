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

use crate::support::config::{ClusterSection, DyndnsSection, NodeSection};
use crate::support::{dig, eventually, eventually_every, NodeConfig, Zone, TOKEN, WAIT, ZONE};

struct InProc {
    node: RunningNode,
    switch: PartitionSwitch,
    _dir: tempfile::TempDir,
}

async fn start(id: u64, bootstrap: bool) -> InProc {
    start_with(id, bootstrap, None).await
}

async fn start_with(id: u64, bootstrap: bool, snapshot_every: Option<u64>) -> InProc {
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
            snapshot_every,
        },
        zones: vec![Zone { records: Vec::new(), ..Zone::test() }],
        dyndns: DyndnsSection { public_url: Some(format!("https://update.{ZONE}")), ..DyndnsSection::default() },
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
fn info(n: &InProc) -> NodeInfo {
    NodeInfo {
        raft_addr: n.node.raft_addr.to_string(),
        http_addr: n.node.http_addr.to_string(),
        dns_addr: n.node.dns_addr.to_string(),
    }
}

async fn three_nodes() -> Vec<InProc> {
    let nodes = vec![start(1, true).await, start(2, false).await, start(3, false).await];
    for n in &nodes[1..] {
        let s = &n.node.service;
        nodes[0].node.service.cluster_add(s.node_id(), info(n), Duration::from_secs(30)).await.expect("add");
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

/// Registers `host` through `via` and returns its update secret.
async fn register(via: &InProc, host: &str) -> String {
    let url = format!("http://{}/nic/register?fqdn={host}", via.node.http_addr);
    let body: serde_json::Value =
        reqwest::Client::new().get(url).bearer_auth(TOKEN).send().await.expect("http").json().await.expect("json");
    body["host"]["update_secret"].as_str().unwrap_or_else(|| panic!("registered: {body}")).to_string()
}

async fn nic_update(via: &InProc, host: &str, secret: &str, ip: &str) -> String {
    let url = format!("http://{}/nic/update?hostname={host}&myip={ip}", via.node.http_addr);
    let resp = reqwest::Client::new().get(url).basic_auth(host, Some(secret)).send().await.expect("http");
    resp.text().await.expect("body").trim().to_string()
}

/// Issue #18, defect 1: a follower forwards an update, the leader commits and applies it
/// but its answer never arrives (as when it dies between the append and the answer), and
/// the follower sends the same update again. Before request ids the second copy was
/// committed too: the host's history held two entries for one request, the client was
/// told `nochg` for a request that did change the address, and a write acknowledged in
/// between could be reverted. Now the copy answers the first outcome and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_update_whose_answer_is_lost_is_applied_once() {
    let mut nodes = three_nodes().await;
    eventually("every node at data format 2", WAIT, async || {
        nodes.iter().all(|n| n.node.service.read(|s| s.cluster_version.0 >= 2)).then_some(())
    })
    .await;
    let leader = nodes.iter().position(|n| n.node.service.status().role == "leader").expect("a leader");
    let follower = (leader + 1) % 3;
    let host = format!("once.{ZONE}");
    let secret = register(&nodes[leader], &host).await;
    let serial = |n: &InProc| n.node.service.read(|s| s.zones.values().next().expect("zone").serial.0);
    let before = serial(&nodes[leader]);

    nodes[leader].switch.lose_forward_answers(1);
    let answer = nic_update(&nodes[follower], &host, &secret, "192.0.2.61").await;
    assert_eq!(answer, "good 192.0.2.61", "the first outcome, not the retry's nochg");
    assert!(!nodes[leader].switch.take_lost_answer(), "the leader lost an answer, so the write was sent again");

    let history = nodes[leader].node.service.read(|s| {
        let h = s.registry.history.iter().find(|(k, _)| k.as_str().trim_end_matches('.') == host).map(|(_, v)| v);
        h.map(|h| h.len()).unwrap_or(0)
    });
    assert_eq!(history, 1, "one request, one history entry");
    assert_eq!(serial(&nodes[leader]), before.wrapping_add(1), "one change, one serial bump");
    let metrics = reqwest::get(format!("http://{}/metrics", nodes[leader].node.http_addr))
        .await
        .expect("http")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.lines().any(|l| l.starts_with("quorumdns_commands_total{") && l.contains(r#"result="repeated""#)),
        "the second copy reached the log and was recognized: {metrics}"
    );
    for n in &mut nodes {
        n.node.shutdown().await;
    }
}

/// Issue #18, defect 2: a node joins a cluster whose log was purged behind a snapshot, so
/// it installs a snapshot taken before its own `add` (a membership without it) and, here,
/// gets no further entries for a while. It used to conclude from that membership that it
/// was removed, fence itself for good (503 on every write, no election) until restarted.
/// Now only a committed membership newer than one that named it counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_that_installs_an_older_snapshot_does_not_fence_itself() {
    let first = start_with(1, true, Some(20)).await;
    for i in 0..60 {
        put_until_ok(&first, &format!("pre{i}"), "192.0.2.3").await;
    }
    eventually("a snapshot on the first node", WAIT, async || {
        first.node.service.raft_node().raft.metrics().borrow().snapshot.is_some().then_some(())
    })
    .await;
    let joining = start_with(2, false, Some(20)).await;
    joining.switch.hold_after_snapshot(true);
    let add = tokio::spawn({
        let svc = first.node.service.clone();
        let info = info(&joining);
        async move { svc.cluster_add(2, info, Duration::from_secs(30)).await }
    });
    eventually("the joining node installs the snapshot", WAIT, async || {
        (joining.node.service.applied_index() > 0).then_some(())
    })
    .await;
    let applied = joining.node.service.raft_node().state.applied_membership();
    assert!(applied.membership().get_node(&2).is_none(), "the snapshot predates the add: {applied:?}");
    // Give the removal watch (every 200 ms) time to misjudge, and check it does not.
    let until = std::time::Instant::now() + Duration::from_millis(1200);
    while std::time::Instant::now() < until {
        assert!(!joining.node.service.health().is_removed(), "a joining node fenced itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    joining.switch.hold_after_snapshot(false);
    joining.switch.refuse_appends(false);
    add.await.expect("task").expect("the learner catches up");
    first.node.service.cluster_promote(2).await.expect("promote");
    assert!(!joining.node.service.health().is_removed());
    put_until_ok(&joining, "after-join", "192.0.2.4").await;
    assert_eq!(answers(&joining, "after-join"), vec!["192.0.2.4".to_string()]);
    let mut nodes = vec![first, joining];
    for n in &mut nodes {
        n.node.shutdown().await;
    }
}

/// Issue #18, defect 3: a node that is not (yet) a member cannot verify credentials: it
/// must answer `911` (the client retries), never `badauth` (ddclient stops for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_not_a_member_answers_911_not_badauth() {
    let outsider = start(7, false).await;
    let url = format!("http://{}/nic/update?hostname=h.{ZONE}&myip=192.0.2.5", outsider.node.http_addr);
    let resp = reqwest::Client::new().get(url).basic_auth(format!("h.{ZONE}"), Some("whatever")).send().await;
    let resp = resp.expect("http");
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(resp.text().await.expect("body").trim(), "911");
    let mut outsider = outsider;
    outsider.node.shutdown().await;
}
