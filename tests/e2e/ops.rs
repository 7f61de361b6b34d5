//! Operations: `/metrics` counts known traffic exactly and parses as Prometheus text,
//! JSON logs carry the request span with the Raft log index, backups restore into a node
//! that answers exactly the same, and `/readyz` follows the loss of the leader's quorum.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::config::LogFormat;
use crate::support::{
    binary, eventually, eventually_every, free_port, Cluster, Dig, Node, NodeConfig, Rcode, TOKEN, WAIT, ZONE,
};

/// Sample name with labels (as printed) -> value.
pub(crate) type Samples = BTreeMap<String, f64>;

pub(crate) async fn scrape(node: &Node) -> (String, Samples) {
    let text = reqwest::get(node.url("/metrics")).await.expect("GET /metrics").text().await.expect("body");
    let mut samples = Samples::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.insert(key.to_string(), value);
    }
    (text, samples)
}

fn get(s: &Samples, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

/// `promtool check metrics` (Debian package `prometheus`; tests/run.sh installs it).
pub(crate) fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (apt-get install prometheus; tests/run.sh does)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool runs");
    let err = String::from_utf8_lossy(&out.stderr);
    // Lint warnings (naming advice) are printed but exit 0 only when the text parses; a
    // parse error exits non-zero with "error while linting".
    assert!(out.status.success() || !err.contains("error"), "promtool check metrics failed:\n{err}");
    assert!(!err.contains("error while linting"), "{err}");
}

async fn put_a(node: &Node, name: &str, addr: &str) -> Value {
    let path = format!("/api/v1/zones/{ZONE}/records/{name}/A");
    let (s, b) = node.api(Method::PUT, &path, Some(json!({"ttl": 60, "data": [addr]}))).await;
    assert_eq!(s, 200, "{b}");
    b
}

#[tokio::test]
async fn metrics_count_known_traffic_exactly_and_parse_as_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path());
    // The leader writes the DNS cookie secret in the background after start: let that
    // entry land before the first scrape, or it counts as one of ours.
    eventually("the cookie secret", Duration::from_secs(20), async || {
        node.logged("DNS cookie secret generated").then_some(())
    })
    .await;
    let serial0 = node.serial();
    let (_, before) = scrape(&node).await;

    for _ in 0..5 {
        assert_eq!(node.dig(&["ns1.dyn.example.test", "A"]).rcode, Rcode::NoError);
    }
    for _ in 0..2 {
        assert_eq!(node.dig(&["+tcp", "nothere.dyn.example.test", "A"]).rcode, Rcode::NxDomain);
    }
    for i in 0..3 {
        put_a(&node, &format!("m{i}"), "192.0.2.10").await;
    }
    for _ in 0..2 {
        let resp = reqwest::Client::new().get(node.url("/api/v1/zones")).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }
    let (text, after) = scrape(&node).await;
    promtool_check_metrics(&text);

    let delta = |k: &str| get(&after, k) - get(&before, k);
    let q = |qtype: &str, rcode: &str, t: &str| {
        format!("quorumdns_dns_queries_total{{qtype=\"{qtype}\",rcode=\"{rcode}\",transport=\"{t}\"}}")
    };
    // The SOA digs of `serial()` happened before the first scrape.
    assert_eq!(delta(&q("A", "NOERROR", "udp")), 5.0, "{text}");
    assert_eq!(delta(&q("A", "NXDOMAIN", "tcp")), 2.0, "{text}");
    let route = "quorumdns_http_requests_total{route=\"/api/v1/zones/{zone}/records/{name}/{rtype}\",status=\"200\"}";
    assert_eq!(delta(route), 3.0, "{text}");
    assert_eq!(delta("quorumdns_auth_failures_total{kind=\"admin_token\"}"), 2.0);
    assert_eq!(get(&after, &format!("quorumdns_zone_serial{{zone=\"{ZONE}\"}}")), f64::from(serial0 + 3));
    assert_eq!(delta("quorumdns_raft_applied_index"), 3.0);
    assert_eq!(delta_kind(&before, &after, "changed"), 3.0);

    // Raft gauges of a single leader, caught up.
    assert_eq!(get(&after, "quorumdns_raft_is_leader"), 1.0);
    assert_eq!(get(&after, "quorumdns_raft_leader_id"), 1.0);
    let applied = get(&after, "quorumdns_raft_applied_index");
    let what = format!("committed/last log gauges at {applied}");
    let caught_up = eventually_every(what, Duration::from_secs(10), Duration::from_millis(50), async || {
        let s = scrape(&node).await.1;
        let caught_up =
            get(&s, "quorumdns_raft_committed_index") == applied && get(&s, "quorumdns_raft_last_log_index") == applied;
        caught_up.then_some(s)
    })
    .await;
    assert_eq!(get(&caught_up, "quorumdns_raft_apply_lag"), 0.0);
    assert!(get(&after, "quorumdns_storage_probe_success_timestamp_seconds") > 1.6e9);
    assert!(get(&after, "quorumdns_process_resident_memory_bytes") > 0.0);

    // A backup builds a snapshot: both counted, its size and time exported.
    let resp = reqwest::Client::new().get(node.url("/api/v1/backup")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let (_, s) = scrape(&node).await;
    assert_eq!(
        get(&s, "quorumdns_backups_total{result=\"ok\"}") - get(&after, "quorumdns_backups_total{result=\"ok\"}"),
        1.0
    );
    assert_eq!(
        get(&s, "quorumdns_raft_snapshots_total{origin=\"built\"}")
            - get(&after, "quorumdns_raft_snapshots_total{origin=\"built\"}"),
        1.0
    );
    assert!(get(&s, "quorumdns_raft_snapshot_bytes") > 0.0);
    assert_eq!(get(&s, "quorumdns_raft_snapshot_index"), applied);
}

/// Sum of `commands_total{result=...}` increases over every kind.
fn delta_kind(before: &Samples, after: &Samples, result: &str) -> f64 {
    let tag = format!("result=\"{result}\"");
    let sum = |s: &Samples| {
        s.iter()
            .filter(|(k, _)| k.starts_with("quorumdns_commands_total{") && k.contains(&tag))
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    sum(after) - sum(before)
}

#[tokio::test]
async fn json_logs_carry_the_request_span_and_the_log_index_and_queries_are_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(dir.path()).with(|c| {
        c.log.format = Some(LogFormat::Json);
        c.node.dns_addr = ([127, 0, 0, 1], free_port()).into();
        c.node.http_addr = ([127, 0, 0, 1], free_port()).into();
    });
    let cmd = Node::serve_command(&config, &dir.path().join("node.toml"));
    // Debug for our crate: the commit event inside the request span is at debug level.
    let node = Node::spawn_with_log(cmd, dir.path(), "info,quorumdns=debug");
    put_a(&node, "logged", "192.0.2.55").await;
    for _ in 0..3 {
        node.dig(&["logged.dyn.example.test", "A"]);
    }
    let lines = node.logs.lock().unwrap().clone();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
        .collect();
    let commit = parsed
        .iter()
        // The last one: the first ones are the configured zone's creation at bootstrap.
        .rev()
        .find(|v| v["fields"]["message"].as_str().is_some_and(|m| m.starts_with("committed")))
        .unwrap_or_else(|| panic!("no commit event:\n{}", lines.join("\n")));
    let spans = commit["spans"].as_array().expect("span list");
    let names: Vec<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.contains(&"http") && names.contains(&"submit"), "spans {names:?}");
    let submit = spans.iter().find(|s| s["name"] == "submit").unwrap();
    assert!(submit["log_index"].as_u64().is_some_and(|i| i > 0), "{submit}");
    assert_eq!(submit["log_index"], commit["fields"]["log_index"]);
    // Per-query logging is off by default: no line names the queried host.
    let n = node.logs.lock().unwrap().iter().filter(|l| l.contains("logged.dyn.example.test")).count();
    assert_eq!(n, 0, "queries were logged");
}

/// Backup file of `node` through the CLI.
fn backup_via_cli(node: &Node, out: &std::path::Path) {
    let o = Command::new(binary())
        .args(["backup", "--out"])
        .arg(out)
        .args(["--server", &format!("http://{}", node.http), "--token", TOKEN])
        .output()
        .expect("backup runs");
    assert!(o.status.success(), "backup failed: {}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test]
async fn a_backup_restored_into_a_fresh_node_answers_exactly_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let fast = |dir: &std::path::Path| NodeConfig::dev(dir).with(|c| c.dyndns.min_update_interval_secs = Some(0));
    let node = Node::start_config(&fast(dir.path()));
    put_a(&node, "www", "192.0.2.1").await;
    let (s, b) = node
        .api(
            Method::PUT,
            &format!("/api/v1/zones/{ZONE}/records/www/TXT"),
            Some(json!({"ttl": 60, "data": ["\"v=1\""]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) =
        node.api(Method::POST, "/api/v1/zones", Some(json!({"name": "second.test", "ns": ["ns1.second.test"]}))).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = node.api(Method::GET, &format!("/nic/register?fqdn=home.{ZONE}"), None).await;
    assert_eq!(s, 200, "{b}");
    let secret = b["host"]["update_secret"].as_str().unwrap().to_string();
    let update = |n: &Node, ip: &str| format!("http://home.{ZONE}:{secret}@{}/nic/update?myip={ip}", n.http);
    let r = reqwest::get(update(&node, "198.51.100.7")).await.unwrap().text().await.unwrap();
    assert!(r.starts_with("good"), "{r}");

    let file = dir.path().join("node.backup");
    // Let the trim the start's zone build asked for pass, so the next one is the backup's.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let trims = get(&scrape(&node).await.1, "quorumdns_heap_trims_total");
    backup_via_cli(&node, &file);
    // The backup decoded a whole copy of the state; the node gives that memory back.
    eventually_every("a heap trim after the backup", WAIT, Duration::from_millis(100), async || {
        (get(&scrape(&node).await.1, "quorumdns_heap_trims_total") > trims).then_some(())
    })
    .await;

    let fresh = tempfile::tempdir().unwrap();
    let o = Command::new(binary())
        .args(["restore", "--from"])
        .arg(&file)
        .args(["--dev", "--data-dir"])
        .arg(fresh.path())
        .output()
        .expect("restore runs");
    assert!(o.status.success(), "restore failed: {}", String::from_utf8_lossy(&o.stderr));
    // Restoring twice into the same directory is refused.
    let again = Command::new(binary())
        .args(["restore", "--from"])
        .arg(&file)
        .args(["--dev", "--data-dir"])
        .arg(fresh.path())
        .output()
        .unwrap();
    assert!(!again.status.success());

    let restored = Node::start_config(&fast(fresh.path()));
    let questions: &[(&str, &str)] = &[
        (ZONE, "SOA"),
        (ZONE, "NS"),
        ("www.dyn.example.test", "A"),
        ("www.dyn.example.test", "TXT"),
        ("home.dyn.example.test", "A"),
        ("ns1.dyn.example.test", "A"),
        ("nothere.dyn.example.test", "A"),
        ("second.test", "SOA"),
        ("second.test", "NS"),
    ];
    for (name, rtype) in questions {
        let a = node.dig(&[name, rtype]);
        let b = eventually(format!("{name} {rtype} on the restored node"), WAIT, async || {
            let d = restored.dig(&[name, rtype]);
            (d.rcode == a.rcode).then_some(d)
        })
        .await;
        let rows = |d: &Dig| {
            let mut v: Vec<String> = d
                .answer
                .iter()
                .chain(&d.authority)
                .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.rtype, r.data))
                .collect();
            v.sort();
            v
        };
        assert_eq!(rows(&a), rows(&b), "{name} {rtype}");
    }
    // The restored node is a working cluster of one: it takes updates (same secret), and
    // the serial continues after the backed-up one.
    let serial = restored.serial();
    assert_eq!(serial, node.serial());
    let r = reqwest::get(update(&restored, "198.51.100.8")).await.unwrap().text().await.unwrap();
    assert!(r.starts_with("good"), "{r}");
    assert_eq!(restored.serial(), serial + 1);
}

fn readiness(v: &Value, check: &str) -> Option<bool> {
    v["checks"].as_array()?.iter().find(|c| c["name"] == check)?["ok"].as_bool()
}

async fn readyz(node: &Node) -> (u16, Value) {
    let resp = reqwest::get(node.url("/readyz")).await.expect("GET /readyz");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn readyz_fails_when_the_quorum_is_gone_and_recovers_when_it_returns() {
    let mut c = Cluster::start(3, 1000).await;
    let leader = c.leader().await;
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    for i in 0..3 {
        let (s, b) = readyz(c.node(i)).await;
        assert_eq!(s, 200, "node {i}: {b}");
        assert_eq!(readiness(&b, "storage_writable"), Some(true), "{b}");
    }
    for i in &others {
        c.kill9(*i);
    }
    let node = c.node(leader);
    let every = Duration::from_millis(100);
    eventually_every("the leader to be unready without a quorum", WAIT, every, async || {
        let (s, b) = readyz(node).await;
        if s == 503 {
            assert_eq!(readiness(&b, "fresh"), Some(false), "{b}");
            return Ok(());
        }
        Err(b)
    })
    .await;
    for i in &others {
        c.restart(*i);
    }
    for i in 0..3 {
        let node = c.node(i);
        eventually_every(format!("node {i} ready after the others returned"), WAIT, every, async || {
            let (s, b) = readyz(node).await;
            (s == 200).then_some(()).ok_or(b)
        })
        .await;
    }
}

/// SIGHUP's default action ends a process; a node without TLS (nothing to reload) must
/// keep serving after one, and log that it got it.
#[tokio::test]
async fn a_hangup_without_tls_leaves_the_node_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()));
    put_a(&node, "before", "192.0.2.10").await;
    for n in 1..=2 {
        let status = Command::new("kill").args(["-HUP", &node.pid().to_string()]).status().unwrap();
        assert!(status.success());
        // Handled, not the default action: the node says it got this one.
        eventually(format!("hangup {n} logged"), Duration::from_secs(10), async || {
            (node.logged_count("SIGHUP:") >= n).then_some(())
        })
        .await;
    }
    let (s, b) = readyz(&node).await;
    assert_eq!(s, 200, "{b}");
    put_a(&node, "after", "192.0.2.11").await;
    assert_eq!(node.dig(&[&format!("after.{ZONE}"), "A"]).answer[0].data, "192.0.2.11");
    assert!(node.logged("SIGHUP"), "the hangup is logged");
}
